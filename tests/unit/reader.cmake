# The reader's change events, acknowledgement bookkeeping, snapshot marks
# and metrics, against librdkafka's mock cluster; and the snapshot mark
# parser's fuzz target.
cdc_unit_test(test_changes
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_changes.c
  LIBS cdc_reader)
cdc_fuzz_target(fuzz_snapshot_mark
  ${CMAKE_CURRENT_LIST_DIR}/../fuzz/fuzz_snapshot_mark.c
  LIBS cdc_reader)
