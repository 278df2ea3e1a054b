// How the network layer is compiled.
//
// Header-only by default: every translation unit that includes engine.hpp or
// testing/server.hpp compiles Boost.Beast, which costs about a minute per unit. A
// project with many load-test files defines WSLOAD_SEPARATE_COMPILATION for all of them
// and includes <wsload/src.hpp> in exactly one, so Beast is compiled once.
#pragma once

#ifdef WSLOAD_SEPARATE_COMPILATION
#define WSLOAD_DECL
#else
#define WSLOAD_DECL inline
#endif
