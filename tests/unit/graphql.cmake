# The GraphQL front end: table-driven cmocka tests, and the differential
# test that compares our verdicts and plans with graphql-js's.
foreach(t lexer parse validate plan schema)
  cdc_unit_test(test_graphql_${t}
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_graphql_${t}.c
            ${CMAKE_CURRENT_LIST_DIR}/test_graphql_fixtures.c
    LIBS cdc_graphql)
endforeach()

add_executable(graphql-check
  ${CMAKE_CURRENT_LIST_DIR}/../graphql-diff/graphql_check.c)
target_link_libraries(graphql-check PRIVATE cdc_graphql)
set_target_properties(graphql-check PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

# diff.mjs checks for tests/node_modules/graphql itself when it runs, so
# installing it after configuring is enough; without node the test fails
# saying what to install.
find_program(CDC_NODE node)
if(CDC_NODE)
  add_test(NAME unit.graphql-diff
    COMMAND ${CDC_NODE} ${CMAKE_CURRENT_LIST_DIR}/../graphql-diff/diff.mjs
            $<TARGET_FILE:graphql-check>)
else()
  add_test(NAME unit.graphql-diff
    COMMAND sh -c "echo 'graphql-diff needs node (and npm ci in tests/)' >&2; exit 1")
endif()
set_tests_properties(unit.graphql-diff PROPERTIES LABELS unit)
