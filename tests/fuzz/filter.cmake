# Filter JSON text through the compiler, the evaluator and a recompile of
# the canonical text.
cdc_fuzz_target(fuzz_filter ${CMAKE_CURRENT_LIST_DIR}/fuzz_filter.c
  LIBS cdc_filter)
