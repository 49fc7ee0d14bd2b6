# Token verification and the permissions file (pusher/auth.h and
# pusher/permissions.h), and the cdc-token tool.
cdc_unit_test(test_auth
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_auth.c
  LIBS cdc_auth)
cdc_unit_test(test_permissions
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_permissions.c
  LIBS cdc_auth)
target_compile_definitions(test_permissions PRIVATE
  FIXTURES_DIR="${CMAKE_CURRENT_LIST_DIR}/../fixtures/permissions")

# A token cdc-token prints is accepted by --verify as the identity asked
# for; a static token from a permissions file too; a short secret is
# refused.
add_test(NAME unit.cdc_token
  COMMAND sh -c "set -e
    t=$(\"$0\" --user u-1 --role editor --ttl 60)
    \"$0\" --verify \"$t\" --issuer directus |
      grep -q 'user \"u-1\", role \"editor\", admin false, expires '
    t=$(\"$0\" --user root --admin --ttl 0 --issuer '')
    \"$0\" --verify \"$t\" | grep -q 'user \"root\", role none, admin true$'
    ! \"$0\" --verify \"$t\" --issuer directus >/dev/null
    \"$0\" --verify static-token-for-the-ingest-service-4f9a \
      --permissions \"$1\" | grep -q 'user \"svc-ingest\", role \"editor\"'
    ! \"$0\" --secret too-short --user u 2>/dev/null"
    $<TARGET_FILE:cdc-token>
    ${CMAKE_CURRENT_LIST_DIR}/../fixtures/permissions/example.json)
set_tests_properties(unit.cdc_token PROPERTIES LABELS unit
  ENVIRONMENT
  "CDC_SECRET=cdc-token-test-secret-0123456789abcdef;CDC_PERMISSIONS=")
