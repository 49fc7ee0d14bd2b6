/* cdc-reader: follows one PostgreSQL database by logical replication and
 * writes every row change to Kafka as an Avro record. */
#include "config.h"
#include "log.h"
#include "reader.h"

int main(int argc, char **argv)
{
    int rc;

    log_init("cdc-reader");
    rc = config_parse_args(
        argc, argv, "cdc-reader",
        "Follows one PostgreSQL database through a logical replication slot "
        "(pgoutput)\nand writes every row change as an Avro record to Kafka, "
        "one topic per table.",
        reader_settings);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    return reader_run();
}
