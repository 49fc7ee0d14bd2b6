/* Config files: NAME=value lines, comments, quotes, and refusals that say
 * which line is wrong. */
#include "config.h"
#include "log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static const char *write_tmp(const char *text)
{
    static char path[64];
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/cdc-config-test-%d", (int)getpid());
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_good_file(void **state)
{
    char err[256];
    long n;
    bool b;

    (void)state;
    unsetenv("CDC_TEST_SLOT");
    assert_true(config_load_file(
        write_tmp("# a comment\n\nCDC_TEST_SLOT = main\nCDC_TEST_N=42\n"
                  "CDC_TEST_Q=\"quoted value\"\nCDC_TEST_B=off\n"),
        err, sizeof(err)));
    assert_string_equal(config_get("CDC_TEST_SLOT"), "main");
    assert_string_equal(config_get("CDC_TEST_Q"), "quoted value");
    assert_true(config_get_long("CDC_TEST_N", 0, 0, 100, &n, err, sizeof(err)));
    assert_int_equal(n, 42);
    assert_true(config_get_bool("CDC_TEST_B", true, &b, err, sizeof(err)));
    assert_false(b);

    /* The environment wins over the file. */
    setenv("CDC_TEST_SLOT", "from-env", 1);
    assert_string_equal(config_get("CDC_TEST_SLOT"), "from-env");
    unsetenv("CDC_TEST_SLOT");

    assert_false(config_get_long("CDC_TEST_N", 0, 0, 10, &n, err, sizeof(err)));
    assert_non_null(strstr(err, "CDC_TEST_N=\"42\" is not valid"));
    config_reset();
}

static void test_bad_files(void **state)
{
    static const struct {
        const char *text;
        const char *error;
    } cases[] = {
        {"CDC_A=1\nno equals sign\n", "line 2 has no \"=\""},
        {"lower=1\n", "\"lower\" is not a setting name"},
        {"=1\n", "\"\" is not a setting name"},
    };
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_false(
            config_load_file(write_tmp(cases[i].text), err, sizeof(err)));
        if (!strstr(err, cases[i].error))
            fail_msg("\"%s\": %s", cases[i].text, err);
    }
    assert_false(config_load_file("/nonexistent/cdc.conf", err, sizeof(err)));
    assert_non_null(strstr(err, "could not open config file"));
    unlink(write_tmp(""));
}

/* CDC_LOG_LEVEL and CDC_LOG_DEBUG reach the log; a wrong level is named. */
static void test_logging(void **state)
{
    char err[256];

    (void)state;
    setenv("CDC_LOG_LEVEL", "warning", 1);
    setenv("CDC_LOG_DEBUG", "kafka", 1);
    assert_true(config_apply_logging(err, sizeof(err)));
    assert_true(log_debug_facility("kafka"));
    assert_false(log_debug_facility("lws"));
    assert_false(log_enabled(LOG_INFO));
    assert_true(log_enabled(LOG_WARNING));

    setenv("CDC_LOG_LEVEL", "loud", 1);
    assert_false(config_apply_logging(err, sizeof(err)));
    assert_string_equal(err, "CDC_LOG_LEVEL=\"loud\" is not valid: give "
                             "debug, info, warning or error");
    unsetenv("CDC_LOG_LEVEL");
    unsetenv("CDC_LOG_DEBUG");
    assert_true(config_apply_logging(err, sizeof(err)));
    assert_false(log_debug_facility("kafka"));
    assert_true(log_enabled(LOG_INFO));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_logging),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
