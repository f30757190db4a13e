// How lenient web frameworks read a request target before they route it, for --routing loose.
#pragma once
// FastAPI, Flask, nginx, Express and the WHATWG URL parser each decode, fold or resolve some
// spellings that a proxy may judge under another name (the path-evasion tests show which). The
// stub's loose mode does all of it at once, so a test through sluice can catch a spelling that
// reaches a protected handler without starting those backends.

#include <string>
#include <string_view>

namespace sluice::stub {

/// The path a loose router matches: absolute-form (or a bare "scheme:") reduced to its path,
/// query and fragment dropped, every %XX decoded once (%2F and %5C too; malformed escapes kept),
/// '\' read as '/', ";params" cut from each segment, "." and ".." resolved after decoding, empty
/// segments (repeated and trailing slashes) dropped, ASCII letters lower-cased. Never empty: at
/// least "/".
std::string loose_path(std::string_view target);

/// `method` upper-cased (ASCII), as frameworks that read "post" as POST do.
std::string loose_method(std::string_view method);

}  // namespace sluice::stub
