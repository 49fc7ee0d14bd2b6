# End-to-end suites: node's test runner drives real processes (PostgreSQL,
# the dev broker, cdc-reader, pushers) and real clients from npm.
find_program(NODE_EXECUTABLE node)

# cdc_e2e_test(NAME FILE [LABEL label] [TIMEOUT seconds])
function(cdc_e2e_test name file)
  cmake_parse_arguments(E "" "LABEL;TIMEOUT" "" ${ARGN})
  if(NOT E_LABEL)
    set(E_LABEL e2e)
  endif()
  if(NOT E_TIMEOUT)
    set(E_TIMEOUT 300)
  endif()
  add_test(NAME ${E_LABEL}.${name}
    COMMAND ${NODE_EXECUTABLE} --test --test-reporter=spec
            ${CMAKE_CURRENT_LIST_DIR}/${file}
    WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
  set_tests_properties(${E_LABEL}.${name} PROPERTIES
    LABELS ${E_LABEL}
    TIMEOUT ${E_TIMEOUT}
    ENVIRONMENT "CDC_BUILD_DIR=${CMAKE_BINARY_DIR}")
endfunction()

if(NODE_EXECUTABLE)
  cdc_e2e_test(walking walking.test.mjs)
  include(${CMAKE_CURRENT_LIST_DIR}/suites.cmake OPTIONAL)
endif()
