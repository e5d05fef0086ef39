/* The on-disk message archive behind /v2/messages/query: every published message is kept under
 * its publisher, so queries work across agent restarts, in a bounded amount of disk.
 *
 * Layout (ours; the classic agent's .idx/.iomsg pairs are not read):
 *   <dir>/<publisher>/<seq>.seg   records, appended
 *   <dir>/<publisher>/<seq>.idx   one 16-byte entry per record of the segment
 * <publisher> is the publisher id with every byte outside [A-Za-z0-9_-] written as %XX (ids that
 * would give a name over 200 bytes are not archived). <seq> is 16 lowercase hex digits from one
 * counter shared by all publishers, so a smaller seq is an older segment.
 *
 * Segment record (all integers big-endian), AGENT_ARCHIVE_RECORD_HEADER bytes then the payload:
 *   0  4  magic "IOFC"
 *   4  4  payload length L (at most AGENT_ARCHIVE_MAX_PAYLOAD)
 *   8  8  timestamp, ms since the epoch (the message's)
 *   16 4  CRC-32C (Castagnoli) of bytes 4..15 and the payload
 * Records of the first version (magic "IOFR", the same layout with FNV-1a 32 as the checksum) are
 * still read; new ones are always "IOFC" (its checksum costs a sixth of FNV-1a's time).
 *   20 L  payload: the binary ioMessage (agent.md §2.2)
 * Index entry: timestamp (8), offset of the record in the segment (8).
 *
 * A record is written before its index entry, so after a crash mid-write a segment may end in a
 * torn record and an index in a partial entry; readers ignore both (a partial entry is not read,
 * a record is checked against magic, length and checksum before use). After a restart appends go
 * to new segments, never to old ones.
 *
 * Group commit: agent_archive_append gathers records (and their index entries) in memory, per
 * publisher, and agent_archive_flush writes them with one write per file; a query, rotation,
 * close, or 32 KiB gathered write them too. The Local API flushes before anything about the
 * messages (their receipts, their deliveries) leaves the Agent, so a crash of the agent loses no
 * message whose receipt was sent. There is no fsync: a power loss may lose the last records (or
 * tear them, see above).
 *
 * Rotation: a segment is closed when the next record would take it past segment_bytes. When the
 * total size of all segments and indexes passes max_bytes, the oldest segments (of any publisher)
 * are deleted until the total is at most 3/4 of max_bytes, as the classic agent does.
 *
 * Thread-safe: one lock per archive; queries hold it while they read. */
#ifndef AGENT_LOCALAPI_ARCHIVE_H
#define AGENT_LOCALAPI_ARCHIVE_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_ARCHIVE_RECORD_HEADER 20
#define AGENT_ARCHIVE_INDEX_ENTRY   16
#define AGENT_ARCHIVE_MAX_PAYLOAD   ((size_t)64 * 1024 * 1024)

struct agent_archive;

struct agent_archive_config {
    const char *dir;        /* created (with parents) when missing */
    uint64_t max_bytes;     /* total on disk; 0: 1 GiB */
    uint64_t segment_bytes; /* one segment file; 0: 1 MiB */
};

/* One record found in segment bytes. payload points into the parsed buffer (borrowed). */
struct agent_archive_record {
    int64_t timestamp;
    const uint8_t *payload;
    size_t payload_len;
    size_t size; /* header + payload: where the next record starts */
};

/* Parses the record at the start of data[0..len). IOF_EINVAL (with the reason in d) when the bytes
 * are no whole, intact record: bad magic, a length over the maximum, fewer bytes than the record
 * needs (a torn tail), or a checksum mismatch. Never reads outside data. */
IOF_NODISCARD iof_err agent_archive_record_parse(const uint8_t *data,
                                                 size_t len,
                                                 struct agent_archive_record *out,
                                                 struct iof_diag *d);

/* Writes the record header for a payload into out (AGENT_ARCHIVE_RECORD_HEADER bytes). */
void agent_archive_record_header(int64_t timestamp,
                                 const uint8_t *payload,
                                 size_t payload_len,
                                 uint8_t out[AGENT_ARCHIVE_RECORD_HEADER]);

/* Opens the archive in cfg->dir (copied), taking stock of the segments already there.
 * IOF_EIO when the directory cannot be created or listed, IOF_ENOMEM. Release with
 * agent_archive_close. */
IOF_NODISCARD iof_err agent_archive_open(const struct agent_archive_config *cfg,
                                         struct agent_archive **out,
                                         struct iof_diag *d);

/* Closes files and frees. NULL accepted. */
void agent_archive_close(struct agent_archive *a);

/* Appends one message (payload: its binary encoding) under publisher, rotating and trimming as
 * described above; it is written by the next agent_archive_flush at the latest. IOF_EINVAL for a
 * publisher that cannot name a directory or an oversized payload, IOF_EIO when writing fails,
 * IOF_ENOMEM. */
IOF_NODISCARD iof_err agent_archive_append(struct agent_archive *a,
                                           const char *publisher,
                                           int64_t timestamp,
                                           const uint8_t *payload,
                                           size_t len,
                                           struct iof_diag *d);

/* Writes every gathered record to its files (see "Group commit"). IOF_EIO when a write failed
 * (those records are lost and logged; later ones go to a fresh segment). */
IOF_NODISCARD iof_err agent_archive_flush(struct agent_archive *a, struct iof_diag *d);

/* Frees the gathering buffers of publishers with nothing gathered (kept while they publish, so
 * a busy publisher does not allocate per group). Called now and then (the Local API's timer). */
void agent_archive_release_idle(struct agent_archive *a);

/* Called for each archived message of a query, oldest segment first and in write order inside a
 * segment; payload is borrowed for the call. Return false to stop the query. */
typedef bool (*agent_archive_visit_fn)(void *ctx,
                                       int64_t timestamp,
                                       const uint8_t *payload,
                                       size_t len);

/* Visits the messages of publisher with from <= timestamp <= to. Unreadable or damaged parts are
 * skipped (and logged), never fatal. IOF_OK also when the publisher has nothing. IOF_ENOMEM. */
IOF_NODISCARD iof_err agent_archive_query(struct agent_archive *a,
                                          const char *publisher,
                                          int64_t from,
                                          int64_t to,
                                          agent_archive_visit_fn fn,
                                          void *ctx,
                                          struct iof_diag *d);

/* Bytes of all segments and indexes, as accounted. */
uint64_t agent_archive_bytes(struct agent_archive *a);

/* Number of segments on disk, as accounted. */
size_t agent_archive_segments(struct agent_archive *a);

#endif
