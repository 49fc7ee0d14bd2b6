/* The Confluent wire format (magic byte 0, big-endian schema id, Avro body)
 * and the source-position record header every record carries. */
#ifndef CDC_WIRE_H
#define CDC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_HEADER_SIZE 5

/* Name of the Kafka record header holding the source position. */
#define WIRE_POSITION_HEADER "cdc.position"

/* Longest position text: "FFFFFFFF/FFFFFFFF:18446744073709551615". */
#define WIRE_POSITION_MAX 40

/* Writes the 5-byte prefix for schema_id into out. */
void wire_put_header(uint8_t out[WIRE_HEADER_SIZE], uint32_t schema_id);

/* Reads the prefix: false when the message is shorter than 5 bytes or the
 * magic byte is not 0. */
bool wire_get_header(const uint8_t *data, size_t len, uint32_t *schema_id);

/* A position orders the records of a partition: commit LSN, then the
 * record's number within its transaction. */
typedef struct wire_position {
    uint64_t commit_lsn;
    uint64_t seq;
} wire_position_t;

/* Formats "X/X:N" (the LSN as PostgreSQL prints it); returns the length. */
int wire_position_format(const wire_position_t *pos,
                         char out[WIRE_POSITION_MAX + 1]);

/* Parses what wire_position_format wrote; false on anything else. */
bool wire_position_parse(const char *text, size_t len, wire_position_t *pos);

/* <0, 0, >0 as a is before, equal to or after b. */
int wire_position_cmp(const wire_position_t *a, const wire_position_t *b);

/* Formats an LSN as PostgreSQL prints it ("16/B374D848"). */
int wire_lsn_format(uint64_t lsn, char out[18]);

/* Parses "16/B374D848"; false on anything else. */
bool wire_lsn_parse(const char *text, size_t len, uint64_t *lsn);

#endif
