/* librdkafka configuration, logging and error classes. */
#include "kafka.h"

#include "config.h"
#include "log.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define KAFKA_PREFIX "CDC_KAFKA_"

struct conf_apply {
    rd_kafka_conf_t *conf;
    char *err;
    size_t errlen;
    bool failed;
};

static void apply_setting(const char *name, const char *value, void *arg)
{
    struct conf_apply *a = arg;
    char property[256], errstr[512];
    const char *suffix = name + strlen(KAFKA_PREFIX);
    size_t i;

    if (a->failed || strcmp(name, "CDC_KAFKA_BROKERS") == 0)
        return;
    for (i = 0; suffix[i] && i < sizeof(property) - 1; i++)
        property[i] = suffix[i] == '_' ? '.' : (char)tolower(suffix[i]);
    property[i] = '\0';
    if (rd_kafka_conf_set(a->conf, property, value, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        snprintf(a->err, a->errlen, "%s (librdkafka property \"%s\"): %s", name,
                 property, errstr);
        a->failed = true;
    }
}

static void log_from_librdkafka(const rd_kafka_t *rk, int level,
                                const char *fac, const char *buf)
{
    log_level_t ours;

    (void)rk;
    if (level <= 3)
        ours = LOG_ERROR;
    else if (level == 4)
        ours = LOG_WARNING;
    else if (level <= 6)
        ours = LOG_INFO;
    else
        ours = LOG_DEBUG;
    /* librdkafka's notices are chatty; only its problems reach the log
     * unless its debug facility is on. */
    if (ours < LOG_WARNING && !log_debug_facility("kafka"))
        return;
    log_write(ours, "kafka", "%s: %s", fac, buf);
}

rd_kafka_conf_t *kafka_conf_new(const char *const *defaults, char *err,
                                size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    struct conf_apply apply = {conf, err, errlen, false};
    const char *brokers = config_get("CDC_KAFKA_BROKERS");
    char errstr[512];

    for (int i = 0; defaults && defaults[i]; i += 2) {
        if (rd_kafka_conf_set(conf, defaults[i], defaults[i + 1], errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "librdkafka refused default \"%s\": %s",
                     defaults[i], errstr);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    if (!brokers || !*brokers)
        brokers = "127.0.0.1:9092";
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
                      sizeof(errstr));
    config_each_prefixed(KAFKA_PREFIX, apply_setting, &apply);
    if (apply.failed) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, log_from_librdkafka);
    if (log_debug_facility("kafka") && !config_get("CDC_KAFKA_DEBUG"))
        rd_kafka_conf_set(conf, "debug", "broker,topic,msg", errstr,
                          sizeof(errstr));
    return conf;
}

bool kafka_error_is_retriable(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return true;
    default:
        return false;
    }
}

int kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
                          char *err, size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e;
    int count = -1;

    if (!rkt) {
        snprintf(err, errlen, "could not create topic handle \"%s\"", topic);
        return -1;
    }
    e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    if (e) {
        snprintf(err, errlen, "could not read metadata of topic \"%s\": %s",
                 topic, rd_kafka_err2str(e));
    } else if (md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(err, errlen, "topic \"%s\" is not available: %s", topic,
                 md->topic_cnt ? rd_kafka_err2str(md->topics[0].err)
                               : "no metadata");
    } else {
        count = md->topics[0].partition_cnt;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return count;
}
