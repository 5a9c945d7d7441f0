# Runs PROGRAM with ARGS and passes only if it exits with status 2 after printing exactly one line
# to stderr that starts with the program's name (no stack trace, no usage dump).
execute_process(COMMAND ${PROGRAM} ${ARGS} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(STRIP "${err}" err)
string(REGEX MATCHALL "\n" newlines "${err}")
list(LENGTH newlines extra_lines)
if(NOT result EQUAL 2 OR NOT err MATCHES "^strata-inpaint: " OR extra_lines GREATER 0)
  message(FATAL_ERROR "expected exit 2 and one line, got exit ${result}:\n${err}\n${out}")
endif()
message(STATUS "rejected: ${err}")
