/* Host and process figures for the status report (agent.md §3.4), read from /proc and statvfs:
 * real numbers, not placeholders. */
#ifndef AGENT_HOSTINFO_H
#define AGENT_HOSTINFO_H

#include <stdbool.h>
#include <stdint.h>

struct agent_hostinfo {
    double memory_usage_mb;           /* this process's resident set */
    double cpu_usage;                 /* this process's CPU % since the previous sample */
    double disk_usage_mb;             /* bytes under the message archive directory, MB */
    uint64_t system_available_disk;   /* bytes free on the archive's file system */
    uint64_t system_available_memory; /* bytes, MemAvailable */
    double system_total_cpu;          /* % of all CPUs busy since the previous sample */
};

/* Keeps the previous CPU counters between samples. Zero-initialise. */
struct agent_hostinfo_state {
    uint64_t proc_ticks, total_ticks, busy_ticks;
    bool primed;
};

/* Samples the figures; disk_dir is the archive directory. Fields that cannot be read stay 0. */
void agent_hostinfo_sample(struct agent_hostinfo_state *st,
                           const char *disk_dir,
                           struct agent_hostinfo *out);

/* The IPv4 address of the interface named (or, for "dynamic", the first non-loopback interface
 * that is not a Docker bridge) into buf; "" when none. */
void agent_hostinfo_ip_address(const char *interface, char *buf, unsigned len);

#endif
