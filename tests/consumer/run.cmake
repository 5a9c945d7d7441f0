# tests/consumer/run.cmake: configure, build and run the consumer project once (cmake -P).
#
#   -DMODE=find_package|add_subdirectory|fetchcontent  how the consumer gets strata
#   -DBINARY_DIR=...        the consumer's build folder (emptied first)
#   -DPREFIX=...            find_package: the install prefix
#   -DSTRATA_SOURCE_DIR=... add_subdirectory, fetchcontent: strata's checkout
#   -DCXX_COMPILER=... -DLAUNCHER=...  the compiler (and ccache) of strata's own build
#   -DCONFIGURE_ONLY=ON     stop after configuring; with -DCOMPONENTS= / -DOPTIONAL_COMPONENTS=
#                           (separated by ",") it checks find_package's components
#   -DEXPECT_FAIL=ON        configuring must fail
#   -DEXPECT=regex          the configure output must match (checked with or without failure)
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE "${BINARY_DIR}")
set(args -S "${CMAKE_CURRENT_LIST_DIR}" -B "${BINARY_DIR}" "-DSTRATA_CONSUMER_MODE=${MODE}"
         -DCMAKE_BUILD_TYPE=Release)
if(CXX_COMPILER)
  list(APPEND args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(LAUNCHER)
  list(APPEND args "-DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}")
endif()
if(MODE STREQUAL "find_package")
  # Only the prefix: the consumer must not find strata's build tree or a system install.
  list(APPEND args "-DCMAKE_PREFIX_PATH=${PREFIX}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
else()
  list(APPEND args "-DSTRATA_SOURCE_DIR=${STRATA_SOURCE_DIR}" -DFETCHCONTENT_FULLY_DISCONNECTED=ON)
endif()
foreach(kind COMPONENTS OPTIONAL_COMPONENTS)
  if(DEFINED ${kind})
    list(APPEND args "-DSTRATA_CONSUMER_${kind}=${${kind}}")
  endif()
endforeach()
if(CONFIGURE_ONLY)
  list(APPEND args -DSTRATA_CONSUMER_CONFIGURE_ONLY=ON)
endif()

execute_process(COMMAND ${CMAKE_COMMAND} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
# CMake wraps its error messages: match against the output with whitespace runs as one space.
string(REGEX REPLACE "[ \t\r\n]+" " " flat "${out}${err}")
if(EXPECT AND NOT flat MATCHES "${EXPECT}")
  message(FATAL_ERROR "consumer: the configure output does not match '${EXPECT}'")
endif()
if(EXPECT_FAIL)
  if(rc EQUAL 0)
    message(FATAL_ERROR "consumer: configuring succeeded but was expected to fail")
  endif()
  return()
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "consumer: configuring with ${MODE} failed")
endif()
if(CONFIGURE_ONLY)
  return()
endif()

execute_process(COMMAND ${CMAKE_COMMAND} --build "${BINARY_DIR}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "consumer: building with ${MODE} failed")
endif()
execute_process(COMMAND "${BINARY_DIR}/consumer" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "consumer: the program built with ${MODE} failed (exit status ${rc})")
endif()
