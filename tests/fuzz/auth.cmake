# Token verification (raw tokens, and arbitrary headers and claims signed
# with the secret) and the permissions file parser.
cdc_fuzz_target(fuzz_token ${CMAKE_CURRENT_LIST_DIR}/fuzz_token.c
  LIBS cdc_auth)
cdc_fuzz_target(fuzz_permissions ${CMAKE_CURRENT_LIST_DIR}/fuzz_permissions.c
  LIBS cdc_auth)
