// CLI11's implementation, compiled once: with CLI11_COMPILE defined, the
// headers that src/cli includes declare these functions and leave them out.
#include <CLI/impl/App_inl.hpp>
#if __has_include(<CLI/impl/Argv_inl.hpp>)
#include <CLI/impl/Argv_inl.hpp>
#endif
#include <CLI/impl/Config_inl.hpp>
#if __has_include(<CLI/impl/Encoding_inl.hpp>)
#include <CLI/impl/Encoding_inl.hpp>
#endif
#include <CLI/impl/Formatter_inl.hpp>
#include <CLI/impl/Option_inl.hpp>
#include <CLI/impl/Split_inl.hpp>
#include <CLI/impl/StringTools_inl.hpp>
#include <CLI/impl/Validators_inl.hpp>
