/* /proc and statvfs readings for the status report; see hostinfo.h. */
#include "agent/hostinfo.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static bool read_cpu_totals(uint64_t *total, uint64_t *busy) {
    FILE *f = fopen("/proc/stat", "re");
    if (f == NULL) {
        return false;
    }
    unsigned long long v[8] = {0};
    int n = fscanf(f,
                   "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
                   &v[0],
                   &v[1],
                   &v[2],
                   &v[3],
                   &v[4],
                   &v[5],
                   &v[6],
                   &v[7]);
    fclose(f);
    if (n < 4) {
        return false;
    }
    uint64_t t = 0;
    for (int i = 0; i < 8; i++) {
        t += v[i];
    }
    *total = t;
    *busy = t - v[3] - v[4]; /* idle and iowait */
    return true;
}

static bool read_self_ticks(uint64_t *ticks) {
    FILE *f = fopen("/proc/self/stat", "re");
    if (f == NULL) {
        return false;
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL) {
        return false;
    }
    unsigned long long ut = 0, st = 0;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
     */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
        return false;
    }
    *ticks = ut + st;
    return true;
}

static double self_rss_mb(void) {
    FILE *f = fopen("/proc/self/statm", "re");
    if (f == NULL) {
        return 0;
    }
    unsigned long long size = 0, res = 0;
    int n = fscanf(f, "%llu %llu", &size, &res);
    fclose(f);
    if (n != 2) {
        return 0;
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static uint64_t mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "re");
    if (f == NULL) {
        return 0;
    }
    char line[256];
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long v = 0;
        if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
            kb = v;
            break;
        }
    }
    fclose(f);
    return kb * 1024;
}

/* Bytes in the files below dir, at most a few levels deep and 10,000 entries (bounded work). */
static uint64_t dir_bytes(const char *dir, int depth, unsigned *budget) {
    DIR *d = opendir(dir);
    if (d == NULL) {
        return 0;
    }
    uint64_t sum = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && *budget > 0) {
        (*budget)--;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        char path[1024];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) {
            continue;
        }
        struct stat st;
        if (lstat(path, &st) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode) && depth > 0) {
            sum += dir_bytes(path, depth - 1, budget);
        } else if (S_ISREG(st.st_mode)) {
            sum += (uint64_t)st.st_size;
        }
    }
    closedir(d);
    return sum;
}

void agent_hostinfo_sample(struct agent_hostinfo_state *st,
                           const char *disk_dir,
                           struct agent_hostinfo *out) {
    memset(out, 0, sizeof *out);
    out->memory_usage_mb = self_rss_mb();
    out->system_available_memory = mem_available();
    struct statvfs vfs;
    if (disk_dir != NULL && statvfs(disk_dir, &vfs) == 0) {
        out->system_available_disk = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    }
    unsigned budget = 10000;
    out->disk_usage_mb =
        disk_dir != NULL ? (double)dir_bytes(disk_dir, 4, &budget) / (1024.0 * 1024.0) : 0;
    uint64_t total = 0, busy = 0, self = 0;
    if (read_cpu_totals(&total, &busy) && read_self_ticks(&self)) {
        if (st->primed && total > st->total_ticks) {
            double dt = (double)(total - st->total_ticks);
            long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
            out->system_total_cpu = 100.0 * (double)(busy - st->busy_ticks) / dt;
            /* /proc/stat counts every CPU: scale to "% of one CPU" like top does */
            out->cpu_usage =
                100.0 * (double)(self - st->proc_ticks) * (double)(ncpu > 0 ? ncpu : 1) / dt;
        }
        st->total_ticks = total;
        st->busy_ticks = busy;
        st->proc_ticks = self;
        st->primed = true;
    }
}

void agent_hostinfo_ip_address(const char *interface, char *buf, unsigned len) {
    buf[0] = '\0';
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) {
        return;
    }
    bool dynamic = interface == NULL || interface[0] == '\0' || strcmp(interface, "dynamic") == 0;
    for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET) {
            continue;
        }
        if (dynamic) {
            if ((i->ifa_flags & IFF_LOOPBACK) != 0 || strncmp(i->ifa_name, "docker", 6) == 0 ||
                strncmp(i->ifa_name, "br-", 3) == 0 || strncmp(i->ifa_name, "veth", 4) == 0) {
                continue;
            }
        } else if (strcmp(i->ifa_name, interface) != 0) {
            continue;
        }
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)i->ifa_addr;
        (void)inet_ntop(AF_INET, &sin->sin_addr, buf, len);
        break;
    }
    freeifaddrs(ifs);
}
