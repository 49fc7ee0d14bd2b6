/* kafka-dev-broker: librdkafka's mock cluster as a program, speaking the
 * Kafka protocol over TCP on 127.0.0.1 for the quick start and the tests.
 *
 * It prints the bootstrap list as its first line and writes it to
 * --bootstrap-file.  SIGUSR1 takes every broker down and SIGUSR2 brings them
 * back, for fault tests; SIGTERM and SIGINT stop it. */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TOPICS 256

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t want_down;
static volatile sig_atomic_t want_up;

static void on_stop(int sig)
{
    stop_signal = sig;
}

static void on_down(int sig)
{
    (void)sig;
    want_down = 1;
}

static void on_up(int sig)
{
    (void)sig;
    want_up = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: kafka-dev-broker [--brokers N] [--bootstrap-file FILE]\n"
            "                        [--topic NAME:PARTITIONS]...\n\n"
            "A development Kafka cluster kept in memory (librdkafka's mock "
            "cluster).\nIt listens on 127.0.0.1 on random ports and prints "
            "the bootstrap list\nas its first line.  Topics not created with "
            "--topic are auto-created\nwith 4 partitions.  Each partition "
            "keeps about 5 MiB; older records are\ndropped.\n\n"
            "Signals: SIGUSR1 takes all brokers down, SIGUSR2 brings them "
            "up,\nSIGTERM stops.\n");
}

static bool parse_topic(const char *arg, char *name, size_t namelen,
                        int *partitions)
{
    const char *colon = strrchr(arg, ':');
    char *end;
    long n;

    if (!colon || colon == arg || (size_t)(colon - arg) >= namelen)
        return false;
    n = strtol(colon + 1, &end, 10);
    if (*end != '\0' || n < 1 || n > 10000)
        return false;
    memcpy(name, arg, (size_t)(colon - arg));
    name[colon - arg] = '\0';
    *partitions = (int)n;
    return true;
}

static void log_line(const char *what, const char *arg)
{
    fprintf(stderr, "kafka-dev-broker[%d]: %s %s\n", (int)getpid(), what, arg);
}

int main(int argc, char **argv)
{
    const char *bootstrap_file = NULL;
    const char *topics[MAX_TOPICS];
    int ntopics = 0, brokers = 1;
    rd_kafka_mock_cluster_t *mcluster;
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    char errstr[512];
    const char *bootstraps;
    struct sigaction sa;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("kafka-dev-broker %s (librdkafka %s)\n", CDC_VERSION,
                   rd_kafka_version_str());
            return 0;
        } else if (strcmp(a, "--brokers") == 0 && i + 1 < argc) {
            brokers = atoi(argv[++i]);
            if (brokers < 1 || brokers > 16) {
                fprintf(stderr, "kafka-dev-broker: --brokers takes 1 to 16\n");
                return 2;
            }
        } else if (strcmp(a, "--bootstrap-file") == 0 && i + 1 < argc) {
            bootstrap_file = argv[++i];
        } else if (strcmp(a, "--topic") == 0 && i + 1 < argc) {
            if (ntopics == MAX_TOPICS) {
                fprintf(stderr, "kafka-dev-broker: at most %d --topic\n",
                        MAX_TOPICS);
                return 2;
            }
            topics[ntopics++] = argv[++i];
        } else {
            fprintf(stderr, "kafka-dev-broker: unknown argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }

    /* The mock cluster lives inside a client instance that we otherwise
     * leave idle. */
    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka-dev-broker: %s\n", errstr);
        return 1;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafka-dev-broker: could not create client: %s\n",
                errstr);
        return 1;
    }
    mcluster = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mcluster) {
        fprintf(stderr, "kafka-dev-broker: could not create mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }

    for (int i = 0; i < ntopics; i++) {
        char name[256];
        int partitions;
        rd_kafka_resp_err_t err;

        if (!parse_topic(topics[i], name, sizeof(name), &partitions)) {
            fprintf(stderr,
                    "kafka-dev-broker: --topic \"%s\" is not NAME:PARTITIONS "
                    "(1 to 10000 partitions)\n",
                    topics[i]);
            return 2;
        }
        err = rd_kafka_mock_topic_create(mcluster, name, partitions, 1);
        if (err) {
            fprintf(stderr,
                    "kafka-dev-broker: could not create topic "
                    "\"%s\": %s\n",
                    name, rd_kafka_err2str(err));
            return 1;
        }
    }

    bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);
    if (bootstrap_file) {
        char tmp[4096];
        FILE *f;

        /* Written aside then renamed, so a reader never sees half a line. */
        snprintf(tmp, sizeof(tmp), "%s.tmp", bootstrap_file);
        f = fopen(tmp, "w");
        if (!f || fprintf(f, "%s\n", bootstraps) < 0 || fclose(f) != 0 ||
            rename(tmp, bootstrap_file) != 0) {
            fprintf(stderr, "kafka-dev-broker: could not write \"%s\": %s\n",
                    bootstrap_file, strerror(errno));
            return 1;
        }
    }
    printf("%s\n", bootstraps);
    fflush(stdout);
    log_line("listening on", bootstraps);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_down;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_up;
    sigaction(SIGUSR2, &sa, NULL);

    while (!stop_signal) {
        if (want_down) {
            want_down = 0;
            rd_kafka_mock_broker_set_down(mcluster, -1);
            log_line("all brokers", "down");
        }
        if (want_up) {
            want_up = 0;
            rd_kafka_mock_broker_set_up(mcluster, -1);
            log_line("all brokers", "up");
        }
        usleep(50 * 1000);
    }

    log_line("stopping on", strsignal(stop_signal));
    rd_kafka_mock_cluster_destroy(mcluster);
    rd_kafka_destroy(rk);
    return 0;
}
