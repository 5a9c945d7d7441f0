# FindCUDNN.cmake: cuDNN's headers and library, for strata::cuda.
#
#   find_package(CUDNN 9 REQUIRED)   ->   CUDNN::cudnn, CUDNN_VERSION, CUDNN_INCLUDE_DIR, CUDNN_LIBRARY
#
# Searches CUDNN_ROOT (CMake or environment variable), then the CUDA toolkit, then the system
# paths. Point CUDNN_ROOT at a directory with include/cudnn.h and lib/libcudnn.so*: a tarball
# install, or the nvidia/cudnn folder of the nvidia-cudnn-cu12/cu13 Python wheels PyTorch
# installs. Those wheels ship only the versioned libcudnn.so.9, no libcudnn.so, so that name is
# searched too. cuDNN 9 loads its sub-libraries (libcudnn_cnn.so.9, ...) at run time from the
# directory of libcudnn.so.9, so keep that directory on the library path (or in the RPATH,
# which CMake's build tree has).

set(_cudnn_hints ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_LIBRARY_ROOT} ${CUDAToolkit_TARGET_DIR})
if(CUDAToolkit_INCLUDE_DIRS)
  list(APPEND _cudnn_hints ${CUDAToolkit_INCLUDE_DIRS}/..)
endif()

find_path(CUDNN_INCLUDE_DIR NAMES cudnn.h
  HINTS ${_cudnn_hints}
  PATH_SUFFIXES include include/x86_64-linux-gnu)
find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 NAMES_PER_DIR
  HINTS ${_cudnn_hints}
  PATH_SUFFIXES lib lib64 lib/x64 lib/x86_64-linux-gnu)

if(CUDNN_INCLUDE_DIR)
  foreach(_cudnn_header cudnn_version.h cudnn_version_v9.h cudnn.h)
    if(EXISTS "${CUDNN_INCLUDE_DIR}/${_cudnn_header}")
      file(STRINGS "${CUDNN_INCLUDE_DIR}/${_cudnn_header}" _cudnn_lines REGEX "#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ")
      if(_cudnn_lines)
        break()
      endif()
    endif()
  endforeach()
  foreach(_cudnn_part MAJOR MINOR PATCHLEVEL)
    string(REGEX MATCH "CUDNN_${_cudnn_part} ([0-9]+)" _ "${_cudnn_lines}")
    set(_cudnn_${_cudnn_part} "${CMAKE_MATCH_1}")
  endforeach()
  if(NOT _cudnn_MAJOR STREQUAL "")
    set(CUDNN_VERSION "${_cudnn_MAJOR}.${_cudnn_MINOR}.${_cudnn_PATCHLEVEL}")
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CUDNN
  REQUIRED_VARS CUDNN_LIBRARY CUDNN_INCLUDE_DIR
  VERSION_VAR CUDNN_VERSION
  REASON_FAILURE_MESSAGE "set CUDNN_ROOT to a directory holding include/cudnn.h and lib/libcudnn.so.9, for example the nvidia/cudnn folder in the site-packages of a Python with PyTorch")

if(CUDNN_FOUND AND NOT TARGET CUDNN::cudnn)
  add_library(CUDNN::cudnn UNKNOWN IMPORTED)
  set_target_properties(CUDNN::cudnn PROPERTIES
    IMPORTED_LOCATION "${CUDNN_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CUDNN_INCLUDE_DIR}")
endif()
mark_as_advanced(CUDNN_INCLUDE_DIR CUDNN_LIBRARY)
