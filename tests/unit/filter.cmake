# The filter compiler and evaluator (pusher/filter.h).
cdc_unit_test(test_filter
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_filter.c
  LIBS cdc_filter)
