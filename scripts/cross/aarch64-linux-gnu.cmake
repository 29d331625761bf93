# CMake toolchain file for cross builds to aarch64 Linux with Debian's cross compilers
# (gcc-aarch64-linux-gnu), used by scripts/cross.sh for the C/C++ libraries the target crates
# build (llama.cpp through llama-cpp-sys-2, whisper.cpp through whisper-rs-sys).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
if(NOT CMAKE_C_COMPILER)
  set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
endif()
if(NOT CMAKE_CXX_COMPILER)
  set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
endif()
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The ARM architecture ggml's CPU kernels are compiled for (the CPU profile's, e.g.
# armv8.2-a+dotprod+fp16 for a Raspberry Pi 5). llama-cpp-sys-2 defines GGML_CPU_ARM_ARCH=armv8-a
# on the cmake command line for every aarch64 build that is not `target-cpu=native`, after the
# value from the environment; this normal variable shadows that cache entry for the whole
# project, ggml included.
if(DEFINED ENV{GGML_CPU_ARM_ARCH} AND NOT "$ENV{GGML_CPU_ARM_ARCH}" STREQUAL "")
  set(GGML_CPU_ARM_ARCH "$ENV{GGML_CPU_ARM_ARCH}")
endif()
