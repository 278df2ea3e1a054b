// The network layer's definitions, for WSLOAD_SEPARATE_COMPILATION: include this in
// exactly one translation unit of the program (see detail/linkage.hpp).
#pragma once

#ifndef WSLOAD_SEPARATE_COMPILATION
#error "define WSLOAD_SEPARATE_COMPILATION for the whole program before including wsload/src.hpp"
#endif

#include <wsload/impl/engine.ipp>
#include <wsload/testing/impl/server.ipp>
