# Suites beyond the walking pipeline; each file registers its own tests with
# cdc_e2e_test().
foreach(suite capture faults protocols trust bench)
  include(${CMAKE_CURRENT_LIST_DIR}/${suite}.cmake OPTIONAL)
endforeach()
