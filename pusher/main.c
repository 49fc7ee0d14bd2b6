/* pusher: serves row changes from Kafka to WebSocket clients over GraphQL
 * (graphql-transport-ws) and Directus's realtime protocol. */
#include "config.h"
#include "log.h"
#include "server.h"

int main(int argc, char **argv)
{
    int rc;

    log_init("pusher");
    rc = config_parse_args(
        argc, argv, "pusher",
        "Reads the change topics of cdc-reader from Kafka and pushes row "
        "changes to\nWebSocket clients: GraphQL subscriptions at /graphql "
        "(graphql-transport-ws)\nand Directus's realtime protocol at "
        "/websocket.",
        pusher_settings);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    return pusher_run();
}
