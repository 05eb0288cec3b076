#!/usr/bin/env python3
"""Generates C++ message types from src/protocol/schemas/*.schema.

Usage: codegen.py <schema dir> <output dir>
Writes <out>/protocol/messages.h (declarations), <out>/protocol/messages_testing.h
(test helpers: populate every field with a non-default value), one
<out>/<api>.cc per schema and <out>/api_table.cc. The format is described in
schemas/README.md. Standard library only.
"""
import os
import re
import shlex
import sys

MAXV = 0x7FFF
INT_TYPES = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t", "uint16": "uint16_t"}
RESERVED = {"version", "r", "w", "m", "seed", "flex", "sub"}
PRIMS = set(INT_TYPES) | {"float64", "bool", "string", "bytes", "records", "uuid"}


class SchemaError(Exception):
    pass


class Range:
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    @staticmethod
    def parse(text, where):
        if text == "none":
            return Range(1, 0)
        m = re.fullmatch(r"(\d+)(\+|-(\d+))?", text)
        if not m:
            raise SchemaError(f"{where}: bad version range '{text}'")
        lo = int(m.group(1))
        if m.group(2) == "+":
            return Range(lo, MAXV)
        if m.group(3):
            return Range(lo, int(m.group(3)))
        return Range(lo, lo)

    def empty(self):
        return self.lo > self.hi

    def intersect(self, o):
        return Range(max(self.lo, o.lo), min(self.hi, o.hi))

    def cond(self, var="version"):
        """A C++ condition that is true when var lies in the range."""
        if self.empty():
            return "false"
        parts = []
        if self.lo > 0:
            parts.append(f"{var} >= {self.lo}")
        if self.hi < MAXV:
            parts.append(f"{var} <= {self.hi}")
        return " && ".join(parts) if parts else "true"

    def cond_within(self, outer, var="version"):
        """Like cond(), leaving out bounds that `outer` (the message's versions) implies."""
        r = Range(self.lo if self.lo > outer.lo else 0, self.hi if self.hi < outer.hi else MAXV)
        return "true" if self.empty() is False and r.lo == 0 and r.hi == MAXV else (r.cond(var) if not self.empty() else "false")

    def contains(self, v):
        return self.lo <= v <= self.hi


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


class Field:
    def __init__(self, name, type_, versions, where):
        self.name, self.type, self.versions, self.where = name, type_, versions, where
        self.member = snake(name)
        self.nullable = Range(1, 0)
        self.default = None
        self.tag = None
        self.tagged = None
        self.children = []

    @property
    def is_array(self):
        return self.type.startswith("[]")

    @property
    def elem(self):
        return self.type[2:] if self.is_array else self.type

    @property
    def is_struct(self):
        return self.elem not in PRIMS

    @property
    def any_nullable(self):
        return not self.nullable.empty()


def signature(fields):
    """What makes two definitions of a struct the same: every field's name,
    type, versions, nullability, default, tags and nested fields."""
    def rng(r):
        return None if r is None else (r.lo, r.hi)
    return tuple((f.name, f.type, rng(f.versions), rng(f.nullable), f.default, f.tag, rng(f.tagged),
                  signature(f.children)) for f in fields)


class Struct:
    def __init__(self, name, fields):
        self.name, self.fields = name, fields


class Message:
    def __init__(self, api, kind, key, versions, flexible, fields):
        self.api, self.kind, self.key, self.versions, self.flexible = api, kind, key, versions, flexible
        self.name = api + kind
        self.root = Struct(self.name, fields)
        self.structs = []  # nested structs, children before parents
        self._collect(fields)

    def _collect(self, fields):
        for f in fields:
            if f.is_struct:
                self._collect(f.children)
                same = [s for s in self.structs if s.name == f.elem]
                if same:
                    # A struct used by two fields (Kafka's commonStructs) is
                    # declared once; every definition must be the same.
                    if signature(same[0].fields) != signature(f.children):
                        raise SchemaError(f"{f.where}: struct {f.elem} defined twice, differently, in {self.name}")
                    continue
                self.structs.append(Struct(f.elem, f.children))

    def has_records(self, struct):
        for f in struct.fields:
            if f.elem == "records":
                return True
            if f.is_struct and self.has_records(Struct(f.elem, f.children)):
                return True
        return False


# ---------------------------------------------------------------- parsing


def parse_schema(path):
    header = {}
    sections = {}
    current = None  # list of (indent, Field) stack
    lines = open(path, encoding="utf-8").read().splitlines()
    for lineno, raw in enumerate(lines, 1):
        where = f"{path}:{lineno}"
        try:
            tokens = shlex.split(raw, comments=True)
        except ValueError as e:
            raise SchemaError(f"{where}: {e}")
        if not tokens:
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        if indent == 0:
            if tokens[0] == "api" and len(tokens) == 3:
                header["key"], header["name"] = int(tokens[1]), tokens[2]
            elif tokens[0] == "versions" and len(tokens) == 2:
                header["versions"] = Range.parse(tokens[1], where)
            elif tokens[0] == "flexible" and len(tokens) == 2:
                header["flexible"] = Range.parse(tokens[1], where)
            elif tokens[0] in ("request", "response") and len(tokens) == 1:
                current = []
                current_stack = []
                sections[tokens[0]] = (current, current_stack)
            else:
                raise SchemaError(f"{where}: unknown line '{raw.strip()}'")
            continue
        if current is None:
            raise SchemaError(f"{where}: field outside a request/response section")
        if indent % 2:
            raise SchemaError(f"{where}: indent by two spaces")
        depth = indent // 2
        if len(tokens) < 3:
            raise SchemaError(f"{where}: a field needs a name, a type and versions")
        f = Field(tokens[0], tokens[1], Range.parse(tokens[2], where), where)
        for opt in tokens[3:]:
            k, _, v = opt.partition("=")
            if k == "nullable":
                f.nullable = Range.parse(v, where)
            elif k == "default":
                f.default = v
            elif k == "tag":
                f.tag = int(v)
            elif k == "tagged":
                f.tagged = Range.parse(v, where)
            else:
                raise SchemaError(f"{where}: unknown option '{opt}'")
        if f.tag is not None and f.tagged is None:
            f.tagged = f.versions
        stack = current_stack
        del stack[depth - 1:]
        if depth == 1:
            current.append(f)
        else:
            if len(stack) != depth - 1:
                raise SchemaError(f"{where}: indented too deep")
            parent = stack[-1]
            if not parent.is_struct:
                raise SchemaError(f"{where}: {parent.name} is not a struct type")
            parent.children.append(f)
        stack.append(f)
        if f.member in RESERVED:
            raise SchemaError(f"{where}: field name {f.name} clashes with generated code")
    for k in ("key", "name", "versions", "flexible"):
        if k not in header:
            raise SchemaError(f"{path}: missing header '{k}'")
    if header["flexible"].hi != MAXV and not header["flexible"].empty():
        raise SchemaError(f"{path}: flexible versions must be N+ or none")
    msgs = []
    for kind in ("request", "response"):
        if kind not in sections:
            raise SchemaError(f"{path}: missing section '{kind}'")
        fields = sections[kind][0]
        validate(fields, path)
        msgs.append(Message(header["name"], kind.capitalize(), header["key"], header["versions"], header["flexible"], fields))
    return msgs


def validate(fields, path):
    tags = set()
    for f in fields:
        if f.is_struct and not f.children:
            raise SchemaError(f"{f.where}: struct type {f.elem} has no fields")
        if not f.is_struct and f.children:
            raise SchemaError(f"{f.where}: {f.type} cannot have fields")
        if f.is_array and f.elem in ("records",):
            raise SchemaError(f"{f.where}: array of records")
        if f.tag is not None:
            if f.tag in tags:
                raise SchemaError(f"{f.where}: tag {f.tag} used twice")
            tags.add(f.tag)
            if f.elem in ("records", "bytes"):
                raise SchemaError(f"{f.where}: records/bytes cannot be tagged")
        if f.default == "null" and not f.any_nullable:
            raise SchemaError(f"{f.where}: default null on a non-nullable field")
        if f.is_struct and not f.is_array and f.any_nullable and f.tag is not None:
            raise SchemaError(f"{f.where}: nullable structs cannot be tagged")
        validate(f.children, path)


# ---------------------------------------------------------------- C++ types and defaults


def elem_cpp(t):
    if t in INT_TYPES:
        return INT_TYPES[t]
    return {"float64": "double", "bool": "bool", "string": "std::string", "bytes": "std::vector<uint8_t>",
            "records": "Records", "uuid": "Uuid"}.get(t, t)


def cpp_type(f):
    if f.is_array:
        t = f"std::vector<{elem_cpp(f.elem)}>"
    else:
        t = elem_cpp(f.type)
    if f.any_nullable and f.type != "records":
        t = f"std::optional<{t}>"
    return t


def int_literal(text, ctype, where):
    try:
        v = int(text, 0)
    except ValueError:
        raise SchemaError(f"{where}: bad integer default '{text}'")
    if v < -(2**63) or v >= 2**64:
        raise SchemaError(f"{where}: default out of range")
    return f"static_cast<{ctype}>({v}LL)" if v < -(2**31) + 1 else str(v)


def init_expr(f):
    """The C++ initializer (without braces) of a member, or '' for value-initialization."""
    d = f.default
    if d == "null":
        return ""
    if f.is_array or f.is_struct or f.elem in ("records", "uuid", "bytes"):
        if f.any_nullable and f.type != "records":
            return f"{cpp_type(f)[len('std::optional<'):-1]}{{}}"
        return ""
    if f.type in INT_TYPES:
        return int_literal(d, INT_TYPES[f.type], f.where) if d is not None else "0"
    if f.type == "float64":
        return d if d is not None else "0.0"
    if f.type == "bool":
        if d not in (None, "true", "false"):
            raise SchemaError(f"{f.where}: bad bool default")
        return d or "false"
    if f.type == "string":
        s = d or ""
        lit = '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"std::string({lit})" if f.any_nullable else (lit if s else "")
    raise SchemaError(f"{f.where}: cannot give a default to {f.type}")


# ---------------------------------------------------------------- read / write code


def read_prim(t, nullable_cond, target, v="version", flex="flex"):
    """Statements that read a primitive of type t into target."""
    if t in INT_TYPES:
        fn = {"int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64", "uint16": "u16"}[t]
        return [f"{target} = r.{fn}();"]
    simple = {"float64": "r.f64()", "bool": "r.boolean()", "uuid": "r.uuid()"}
    if t in simple:
        return [f"{target} = {simple[t]};"]
    if t == "string":
        if nullable_cond is None:
            return [f"{target} = {flex} ? r.compact_string() : r.string();"]
        return [f"if ({nullable_cond}) {target} = {flex} ? r.compact_nullable_string() : r.nullable_string();",
                f"else {target} = {flex} ? r.compact_string() : r.string();"]
    if t == "bytes":
        if nullable_cond is None:
            return [f"{target} = to_vector({flex} ? r.compact_bytes() : r.bytes());"]
        return [f"if ({nullable_cond}) {target} = to_vector({flex} ? r.compact_nullable_bytes() : r.nullable_bytes());",
                f"else {target} = to_vector({flex} ? r.compact_bytes() : r.bytes());"]
    if t == "records":
        return [f"{target} = read_records(r, {flex});"]
    raise AssertionError(t)


def write_prim(t, src, nullable_cond, is_opt, flex="flex"):
    if t in INT_TYPES:
        fn = {"int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64", "uint16": "u16"}[t]
        return [f"w.{fn}({src});"]
    simple = {"float64": "f64", "bool": "boolean", "uuid": "uuid"}
    if t in simple:
        return [f"w.{simple[t]}({src});"]
    if t == "string":
        val = f"({src} ? std::string_view(*{src}) : std::string_view())" if is_opt else src
        plain = [f"if ({flex}) w.compact_string({val}); else w.string({val});"]
        if not is_opt:
            return plain
        return [f"if ({nullable_cond}) {{ if ({flex}) w.compact_nullable_string({src}); else w.nullable_string({src}); }}",
                "else " + plain[0]]
    if t == "bytes":
        if not is_opt:
            return [f"if ({flex}) w.compact_bytes({src}); else w.bytes({src});"]
        return [f"if ({nullable_cond}) {{ if ({flex}) w.compact_nullable_bytes(as_span({src})); else w.nullable_bytes(as_span({src})); }}",
                f"else {{ auto b_ = as_span({src}).value_or(std::span<const uint8_t>()); if ({flex}) w.compact_bytes(b_); else w.bytes(b_); }}"]
    if t == "records":
        return [f"w.records({src}, {flex});"]
    raise AssertionError(t)


def read_field(f, target):
    """Statements reading field f (already known present) into target."""
    ncond = f.nullable.cond() if f.any_nullable else None
    if f.is_array:
        et = elem_cpp(f.elem)
        out = ["{",
               "  int32_t n_ = flex ? r.compact_array_length() : r.array_length();"]
        if f.any_nullable:
            out += [f"  if (n_ < 0 && ({ncond})) {{ {target}.reset(); }} else {{",
                    f"    auto& vec_ = {target}.emplace();"]
        else:
            out += ["  {", f"    auto& vec_ = {target};", "    vec_.clear();"]
        out += ["    if (n_ > 0) vec_.reserve(static_cast<size_t>(n_));",
                "    for (int32_t i_ = 0; i_ < n_; ++i_) {",
                f"      {et}& e_ = vec_.emplace_back();"]
        if f.is_struct:
            out.append("      e_.read(r, version);")
        else:
            out += ["      " + s for s in read_prim(f.elem, None, "e_")]
        out += ["    }", "  }", "}"]
        return out
    if f.is_struct and f.any_nullable:
        # Kafka's nullable struct: an int8 marker, -1 for null, 1 before the
        # struct. Not emplace(): clang finds a nested struct with default member
        # initializers not default-constructible inside its enclosing class.
        return [f"if (!({ncond}) || r.i8() >= 0) {{",
                f"  decltype({target})::value_type v_;",
                "  v_.read(r, version);",
                f"  {target} = std::move(v_);",
                f"}} else {{",
                f"  {target}.reset();",
                "}"]
    if f.is_struct:
        return [f"{target}.read(r, version);"]
    return read_prim(f.type, ncond, target)


def write_field(f, src):
    is_opt = f.any_nullable and f.type != "records"
    ncond = f.nullable.cond() if f.any_nullable else "false"
    if f.is_array:
        out = ["{"]
        if is_opt:
            out += [f"  if (!{src} && ({ncond})) {{",
                    "    if (flex) w.compact_array_length(-1); else w.array_length(-1);",
                    "  } else {",
                    f"    static const decltype({src})::value_type kEmpty_;",
                    f"    const auto& vec_ = {src} ? *{src} : kEmpty_;"]
        else:
            out += ["  {", f"    const auto& vec_ = {src};"]
        out += ["    int32_t n_ = static_cast<int32_t>(vec_.size());",
                "    if (flex) w.compact_array_length(n_); else w.array_length(n_);",
                "    for (const auto& e_ : vec_) {"]
        if f.is_struct:
            out.append("      e_.write(w, version);")
        else:
            out += ["      " + s for s in write_prim(f.elem, "e_", None, False)]
        out += ["    }", "  }", "}"]
        return out
    if f.is_struct and is_opt:
        return [f"if ({ncond}) w.i8({src} ? 1 : -1);",
                f"if ({src}) {src}->write(w, version);",
                f"else if (!({ncond})) decltype({src})::value_type{{}}.write(w, version);"]
    if f.is_struct:
        return [f"{src}.write(w, version);"]
    return write_prim(f.type, src, ncond, is_opt)


def gen_struct_methods(msg, st, qual):
    """read() and write() of one struct (the message itself or a nested one)."""
    out = []
    flex_from = msg.flexible.lo if not msg.flexible.empty() else MAXV
    tagged = sorted([f for f in st.fields if f.tag is not None], key=lambda f: f.tag)
    # read
    out.append(f"void {qual}::read(Reader& r, int16_t version) {{")
    if st is msg.root:
        out.append(f"  if (version < kMinVersion || version > kMaxVersion) throw DecodeError(\"{msg.name}: unsupported version\");")
    out.append(f"  const bool flex = version >= {flex_from};")
    for f in st.fields:
        present = f.versions.intersect(msg.versions)
        if present.empty():
            continue
        cond = present.cond_within(msg.versions)
        if f.tag is not None:
            cond = f"({cond}) && !(flex && ({f.tagged.cond()}))"
        out.append(f"  if ({cond}) {{")
        out += ["    " + s for s in read_field(f, f.member)]
        out.append("  }")
    out.append("  if (flex) {")
    if not tagged:
        out.append("    r.skip_tagged_fields();")
    else:
        out += ["    uint32_t count_ = r.uvarint();",
                "    for (uint32_t t_ = 0; t_ < count_; ++t_) {",
                "      uint32_t tag_ = r.uvarint();",
                "      uint32_t size_ = r.uvarint();",
                "      Reader sub_(r.take(size_));",
                "      switch (tag_) {"]
        for f in tagged:
            out.append(f"        case {f.tag}:")
            out.append(f"          if ({f.tagged.cond()}) {{")
            out.append("            [&](Reader& r) {")
            out += ["              " + x for x in read_field(f, f.member)]
            out.append("            }(sub_);")
            out.append("          }")
            out.append("          break;")
        out += ["        default:", "          break;  // unknown tags are skipped", "      }", "    }"]
    out.append("  }")
    out.append("}")
    out.append("")
    # write
    out.append(f"void {qual}::write(Writer& w, int16_t version) const {{")
    out.append(f"  const bool flex = version >= {flex_from};")
    for f in st.fields:
        present = f.versions.intersect(msg.versions)
        if present.empty():
            continue
        cond = present.cond_within(msg.versions)
        if f.tag is not None:
            cond = f"({cond}) && !(flex && ({f.tagged.cond()}))"
        out.append(f"  if ({cond}) {{")
        out += ["    " + s for s in write_field(f, f.member)]
        out.append("  }")
    out.append("  if (flex) {")
    if not tagged:
        out.append("    w.empty_tagged_fields();")
    else:
        out.append("    uint32_t count_ = 0;")
        for f in tagged:
            out.append(f"    const bool has_{f.member}_ = ({f.tagged.cond()}) && !({f.member} == {cpp_type(f)}{{{init_expr(f)}}});")
            out.append(f"    if (has_{f.member}_) ++count_;")
        out.append("    w.uvarint(count_);")
        for f in tagged:
            out.append(f"    if (has_{f.member}_) {{")
            out.append("      Writer sub_;")
            out.append("      [&](Writer& w) {")
            out += ["        " + x for x in write_field(f, f.member)]
            out.append("      }(sub_);")
            out.append(f"      w.uvarint({f.tag});")
            out.append("      OutputFrame frame_ = std::move(sub_).finish();")
            out.append("      w.uvarint(static_cast<uint32_t>(frame_.buffer.size()));")
            out.append("      w.raw(frame_.buffer);")
            out.append("    }")
    out.append("  }")
    out.append("}")
    out.append("")
    return out


def gen_struct_decl(msg, st, indent, is_root):
    p = " " * indent
    out = [f"{p}struct {st.name} {{"]
    if is_root:
        flex_from = msg.flexible.lo if not msg.flexible.empty() else None
        out.append(f"{p}  static constexpr int16_t kApiKey = {msg.key};")
        out.append(f"{p}  static constexpr int16_t kMinVersion = {msg.versions.lo};")
        out.append(f"{p}  static constexpr int16_t kMaxVersion = {msg.versions.hi};")
        out.append(f"{p}  static constexpr int16_t kFlexibleFrom = {flex_from if flex_from is not None else 'INT16_MAX'};")
        for s in msg.structs:
            out += gen_struct_decl(msg, s, indent + 2, False)
    for f in st.fields:
        init = init_expr(f)
        out.append(f"{p}  {cpp_type(f)} {f.member}{{{init}}};")
    out.append(f"{p}  void read(Reader& r, int16_t version);")
    out.append(f"{p}  void write(Writer& w, int16_t version) const;")
    if not msg.has_records(st):
        out.append(f"{p}  bool operator==(const {st.name}&) const = default;")
    out.append(f"{p}}};")
    return out


# ---------------------------------------------------------------- test helpers


def populate_field(msg, f, target, depth, seed):
    """Statements giving f (present in `version`) a non-default value."""
    out = []
    if f.is_array:
        if f.any_nullable:
            out.append(f"{target}.emplace();")
            vec = f"(*{target})"
        else:
            vec = target
        out.append(f"{vec}.resize(2);")
        for i in range(2):
            e = f"{vec}[{i}]"
            if f.is_struct:
                out.append(f"populate({e}, version, seed + {i + 1});")
            else:
                out += populate_prim(f.elem, e, False, seed + i + 1, f)
        return out
    if f.is_struct and f.any_nullable:
        return [f"{target} = decltype({target})::value_type{{}};",
                f"populate(*{target}, version, seed + {seed});"]
    if f.is_struct:
        return [f"populate({target}, version, seed + {seed});"]
    return populate_prim(f.type, target, f.any_nullable and f.type != "records", seed, f)


def populate_prim(t, target, is_opt, seed, f):
    if t in INT_TYPES:
        d = f.default if (f.default and not f.is_array) else "0"
        return [f"{target} = static_cast<{INT_TYPES[t]}>({int(d, 0)}LL + 3 + seed + {seed});"]
    if t == "float64":
        return [f"{target} = 0.5 + seed;"]
    if t == "bool":
        d = f.default if not f.is_array else None
        return [f"{target} = {'false' if d == 'true' else 'true'};"]
    if t == "uuid":
        return [f"{target} = test_uuid(seed + {seed});"]
    if t == "string":
        return [f"{target} = std::string(\"{f.member}-\") + std::to_string(seed + {seed});"]
    if t == "bytes":
        return [f"{target} = std::vector<uint8_t>{{1, 2, static_cast<uint8_t>(seed + {seed})}};"]
    if t == "records":
        return [f"{target} = Records::of(test_records());"]
    raise AssertionError(t)


def gen_populate(msg, st):
    out = [f"inline void populate({msg.name}::{st.name}& m, int16_t version, int seed) {{"
           if st is not msg.root else f"inline void populate({msg.name}& m, int16_t version, int seed) {{"]
    for i, f in enumerate(st.fields):
        present = f.versions.intersect(msg.versions)
        if present.empty():
            continue
        out.append(f"  if ({present.cond_within(msg.versions)}) {{")
        out += ["    " + s for s in populate_field(msg, f, "m." + f.member, 0, i)]
        out.append("  }")
    out.append("  (void)version;")
    out.append("  (void)seed;")
    out.append("}")
    return out


# ---------------------------------------------------------------- files


HEADER_TOP = """#pragma once
// GENERATED by src/protocol/codegen.py from src/protocol/schemas/: do not edit.
// Kafka request and response types with version-aware read()/write(). Each
// value is a plain struct: not thread-safe, but independent values may be used
// from different threads.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "protocol/reader.h"
#include "protocol/writer.h"

namespace runnel::protocol {
"""


def write_if_changed(path, text):
    if os.path.exists(path) and open(path, encoding="utf-8").read() == text:
        return
    with open(path + ".tmp", "w", encoding="utf-8") as fp:
        fp.write(text)
    os.replace(path + ".tmp", path)


def main():
    schema_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(out_dir, "protocol"), exist_ok=True)
    apis = []
    for name in sorted(os.listdir(schema_dir)):
        if name.endswith(".schema"):
            try:
                apis.append(parse_schema(os.path.join(schema_dir, name)))
            except SchemaError as e:
                sys.exit(f"codegen: {e}")
    apis.sort(key=lambda a: a[0].key)
    keys = [a[0].key for a in apis]
    if len(set(keys)) != len(keys):
        sys.exit("codegen: two schemas share an api key")

    h = [HEADER_TOP]
    for req, resp in apis:
        for m in (req, resp):
            h += gen_struct_decl(m, m.root, 0, True)
            h.append("")
    h.append("// One row per API with generated messages.")
    h.append("struct ApiInfo {\n  int16_t api_key;\n  const char* name;\n  int16_t min_version;\n"
             "  int16_t max_version;\n  int16_t flexible_from;\n};")
    h.append("std::span<const ApiInfo> all_apis();")
    h.append("const ApiInfo* find_api(int16_t api_key);  // nullptr when unknown")
    h.append("// The API's name for logs (\"Produce\"), or \"Unknown\".")
    h.append("const char* api_name(int16_t api_key);")
    h.append("")
    h.append("// Calls f(std::type_identity<Req>{}, std::type_identity<Resp>{}) for the API's")
    h.append("// types; returns false when the key is unknown.")
    h.append("template <class F>\nbool visit_api(int16_t api_key, F&& f) {\n  switch (api_key) {")
    for req, resp in apis:
        h.append(f"    case {req.key}:\n      f(std::type_identity<{req.name}>{{}}, std::type_identity<{resp.name}>{{}});\n      return true;")
    h.append("    default:\n      return false;\n  }\n}")
    h.append("")
    h.append("}  // namespace runnel::protocol")
    write_if_changed(os.path.join(out_dir, "protocol", "messages.h"), "\n".join(h) + "\n")

    cc_top = ("// GENERATED by src/protocol/codegen.py: do not edit.\n#include \"protocol/messages.h\"\n"
              "#include \"protocol/message_support.h\"\n\nnamespace runnel::protocol {\n\n")
    for req, resp in apis:
        body = []
        for m in (req, resp):
            for s in m.structs:
                body += gen_struct_methods(m, s, f"{m.name}::{s.name}")
            body += gen_struct_methods(m, m.root, m.name)
        write_if_changed(os.path.join(out_dir, f"{snake(req.api)}.cc"),
                         cc_top + "\n".join(body) + "}  // namespace runnel::protocol\n")

    t = [cc_top, "namespace {", "const ApiInfo kApis[] = {"]
    for req, _ in apis:
        ff = req.flexible.lo if not req.flexible.empty() else "INT16_MAX"
        t.append(f"    {{{req.key}, \"{req.api}\", {req.versions.lo}, {req.versions.hi}, {ff}}},")
    t += ["};", "}  // namespace", "",
          "std::span<const ApiInfo> all_apis() { return kApis; }", "",
          "const ApiInfo* find_api(int16_t api_key) {",
          "  for (const auto& a : kApis)", "    if (a.api_key == api_key) return &a;", "  return nullptr;", "}", "",
          "const char* api_name(int16_t api_key) {", "  const ApiInfo* a = find_api(api_key);",
          "  return a ? a->name : \"Unknown\";", "}", "", "}  // namespace runnel::protocol", ""]
    write_if_changed(os.path.join(out_dir, "api_table.cc"), "\n".join(t))

    tt = ["#pragma once",
          "// GENERATED by src/protocol/codegen.py: test helpers that give every field present",
          "// in a version a non-default value (unit tests and fuzzing only).",
          "#include <string>", "", "#include \"protocol/messages.h\"", "", "namespace runnel::protocol {", "",
          "inline Uuid test_uuid(int seed) {", "  Uuid u{};",
          "  for (size_t i = 0; i < u.size(); ++i) u[i] = static_cast<uint8_t>(seed * 7 + i);", "  return u;", "}",
          "inline std::span<const uint8_t> test_records() {",
          "  static const uint8_t bytes[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4};",
          "  return bytes;", "}", ""]
    for req, resp in apis:
        for m in (req, resp):
            for s in m.structs:
                tt.append(f"inline void populate({m.name}::{s.name}& m, int16_t version, int seed);")
    tt.append("")
    for req, resp in apis:
        for m in (req, resp):
            for s in m.structs:
                tt += gen_populate(m, s)
            tt += gen_populate(m, m.root)
            tt.append("")
    tt.append("}  // namespace runnel::protocol")
    write_if_changed(os.path.join(out_dir, "protocol", "messages_testing.h"), "\n".join(tt) + "\n")


if __name__ == "__main__":
    main()
