/* libFuzzer target: the archive's record parser fed segment bytes as a crash or a damaged disk may
 * leave them. Records are walked as a reader would; each one found must lie inside the input, and
 * its payload goes through the ioMessage decoder as /v2/messages/query does.
 * Seeds: agent/fuzz-corpus/archive. */
#include "agent/localapi/archive.h"
#include "iomessage/iomessage.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
    if (!ok) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t off = 0;
    while (off < size) {
        struct agent_archive_record rec;
        if (agent_archive_record_parse(data + off, size - off, &rec, NULL) != IOF_OK) {
            break;
        }
        check(rec.size >= AGENT_ARCHIVE_RECORD_HEADER && rec.size <= size - off);
        check(rec.payload == data + off + AGENT_ARCHIVE_RECORD_HEADER);
        check(rec.payload_len == rec.size - AGENT_ARCHIVE_RECORD_HEADER);
        struct iof_msg *m = NULL;
        if (iof_msg_decode(rec.payload, rec.payload_len, &m, NULL) == IOF_OK) {
            json_t *j = NULL;
            if (iof_msg_to_json(m, &j, NULL) == IOF_OK) {
                json_decref(j);
            }
            iof_msg_free(m);
        }
        /* the header writer agrees with the parser: the same length and timestamp, and for a
         * record of the current format ("IOFC") every byte (the writer never writes the first
         * format, "IOFR") */
        uint8_t head[AGENT_ARCHIVE_RECORD_HEADER];
        agent_archive_record_header(rec.timestamp, rec.payload, rec.payload_len, head);
        bool current = memcmp(data + off, "IOFC", 4) == 0;
        check(current || memcmp(data + off, "IOFR", 4) == 0);
        for (size_t i = current ? 0 : 4; i < (current ? sizeof head : 16); i++) {
            check(head[i] == data[off + i]);
        }
        off += rec.size;
    }
    return 0;
}
