# Unit tests of the type mapping and the parsers of PostgreSQL's text
# output.
cdc_unit_test(test_pgtype
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pgtype.c
  LIBS cdc_reader)
