/* SPDX-License-Identifier: MIT */
/* The line protocol and the warning quoting, as pure functions. */
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "wire.h"

static unsigned char scratch[RT_WIRE_SCRATCH(RT_MSG_MAX * 4)];

static int parse(const char *line, struct rt_msg *m)
{
    return rt__wire_parse((const unsigned char *)line, strlen(line), scratch,
                          m);
}

static void assert_span(const unsigned char *p, size_t n, const char *want)
{
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
}

static void encode_colon_form(void **state)
{
    (void)state;
    char buf[RT_MSG_MAX];
    ssize_t n = rt__wire_encode(buf, RT_CMD_REGISTER, "/psm_a1", 7,
                                "shared_memory", 13);
    assert_int_equal(n, strlen("REGISTER:/psm_a1:shared_memory\n"));
    assert_memory_equal(buf, "REGISTER:/psm_a1:shared_memory\n", (size_t)n);
    n = rt__wire_encode(buf, RT_CMD_UNREGISTER, "/a:b", 4, "semaphore", 9);
    assert_memory_equal(buf, "UNREGISTER:/a:b:semaphore\n", (size_t)n);
    /* The wrappers' quiet withdrawal, both encoders. */
    n = rt__wire_encode(buf, RT_CMD_FORGET, "/f", 2, "semaphore", 9);
    assert_int_equal(n, strlen("RT_FORGET:/f:semaphore\n"));
    assert_memory_equal(buf, "RT_FORGET:/f:semaphore\n", (size_t)n);
    n = rt__wire_encode_cstr(buf, RT_CMD_FORGET, "/f", "semaphore", 9);
    assert_memory_equal(buf, "RT_FORGET:/f:semaphore\n", (size_t)n);
}

static void encode_json_form_for_unprintable_names(void **state)
{
    (void)state;
    char buf[RT_MSG_MAX];
    /* "/a\nb" in URL-safe base64 is "L2EKYg==". */
    ssize_t n =
        rt__wire_encode(buf, RT_CMD_REGISTER, "/a\nb", 4, "shared_memory", 13);
    const char *want = "{\"cmd\":\"REGISTER\",\"rtype\":\"shared_memory\","
                       "\"base64_name\":\"L2EKYg==\"}\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, (size_t)n);
    /* Bytes 0xfb 0xff use the URL-safe letters '-' and '_'. */
    n = rt__wire_encode(buf, RT_CMD_UNREGISTER, "\xfb\xff", 2, "semaphore", 9);
    want = "{\"cmd\":\"UNREGISTER\",\"rtype\":\"semaphore\","
           "\"base64_name\":\"-_8=\"}\n";
    assert_memory_equal(buf, want, (size_t)n);
}

static void encode_limits(void **state)
{
    (void)state;
    char buf[RT_MSG_MAX];
    char name[RT_MSG_MAX + 8];
    /* Colon form: "REGISTER:" + name + ":semaphore\n" fills PIPE_BUF. */
    size_t fit = RT_MSG_MAX - strlen("REGISTER::semaphore\n");
    memset(name, 'x', sizeof(name));
    name[0] = '/';
    assert_int_equal(
        rt__wire_encode(buf, RT_CMD_REGISTER, name, fit, "semaphore", 9),
        RT_MSG_MAX);
    assert_int_equal(
        rt__wire_encode(buf, RT_CMD_REGISTER, name, fit + 1, "semaphore", 9),
        -ENAMETOOLONG);
    /* JSON form: 4 base64 characters per 3 bytes. */
    size_t fixed = strlen("{\"cmd\":\"REGISTER\",\"rtype\":\"semaphore\","
                          "\"base64_name\":\"\"}\n");
    size_t jfit = (RT_MSG_MAX - fixed) / 4 * 3;
    name[1] = '\n';
    assert_true(
        rt__wire_encode(buf, RT_CMD_REGISTER, name, jfit, "semaphore", 9) > 0);
    assert_int_equal(
        rt__wire_encode(buf, RT_CMD_REGISTER, name, jfit + 1, "semaphore", 9),
        -ENAMETOOLONG);
}

static void parse_colon_form(void **state)
{
    (void)state;
    struct rt_msg m;
    assert_int_equal(parse("REGISTER:/psm_x:shared_memory\n", &m), 0);
    assert_int_equal(m.cmd, RT_CMD_REGISTER);
    assert_span(m.name, m.name_len, "/psm_x");
    assert_span(m.rtype, m.rtype_len, "shared_memory");
    /* The name is everything between the first and the last colon. */
    assert_int_equal(parse("UNREGISTER:/a:b::c:semaphore", &m), 0);
    assert_int_equal(m.cmd, RT_CMD_UNREGISTER);
    assert_span(m.name, m.name_len, "/a:b::c");
    assert_span(m.rtype, m.rtype_len, "semaphore");
    assert_int_equal(parse("PROBE:0:noop\n", &m), 0);
    assert_int_equal(m.cmd, RT_CMD_PROBE);
    assert_int_equal(parse("RT_FORGET:/z:mqueue\n", &m), 0);
    assert_int_equal(m.cmd, RT_CMD_FORGET);
    assert_span(m.name, m.name_len, "/z");
    /* CPython strips the line: so do we (a CRLF writer still works). */
    assert_int_equal(parse("  REGISTER:/y:semaphore\r\n", &m), 0);
    assert_span(m.name, m.name_len, "/y");
}

static void parse_json_form(void **state)
{
    (void)state;
    struct rt_msg m;
    assert_int_equal(parse("{\"cmd\":\"REGISTER\",\"rtype\":\"shared_memory\","
                           "\"base64_name\":\"L2EKYg==\"}\n",
                           &m),
                     0);
    assert_int_equal(m.cmd, RT_CMD_REGISTER);
    assert_int_equal(m.name_len, 4);
    assert_memory_equal(m.name, "/a\nb", 4);
    /* Any key order, any JSON whitespace, escapes, missing padding,
     * unknown members. */
    assert_int_equal(parse("{ \"base64_name\" : \"L2EKYg\" ,\n\t\"rtype\":"
                           "\"sema\\u0070hore\", \"x\": 12, \"y\": null,"
                           " \"cmd\" : \"UNREGISTER\" }",
                           &m),
                     0);
    assert_int_equal(m.cmd, RT_CMD_UNREGISTER);
    assert_span(m.rtype, m.rtype_len, "semaphore");
    assert_int_equal(m.name_len, 4);
    assert_int_equal(parse("{\"cmd\":\"PROBE\",\"rtype\":\"noop\"}", &m), 0);
    assert_int_equal(m.cmd, RT_CMD_PROBE);
    /* Members we do not use may hold arrays and objects. */
    assert_int_equal(parse("{\"cmd\":\"PROBE\",\"x\":[1,\"a\",{\"b\":[]}],"
                           "\"y\":{},\"rtype\":\"noop\",\"z\":\"\\u00e9\"}",
                           &m),
                     0);
    assert_span(m.rtype, m.rtype_len, "noop");
}

static void round_trip(void **state)
{
    (void)state;
    static const char *const names[] = {
        "/plain",       "/with:colons:",     "/new\nline",
        "/caf\xc3\xa9", "/\x01\x02\x7f\xff", "/ spaces ",
        "{/brace",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char buf[RT_MSG_MAX];
        size_t len = strlen(names[i]);
        ssize_t n = rt__wire_encode(buf, RT_CMD_UNREGISTER, names[i], len,
                                    "shared_memory", 13);
        assert_true(n > 0);
        struct rt_msg m;
        assert_int_equal(
            rt__wire_parse((unsigned char *)buf, (size_t)n, scratch, &m), 0);
        assert_int_equal(m.cmd, RT_CMD_UNREGISTER);
        assert_int_equal(m.name_len, len);
        assert_memory_equal(m.name, names[i], len);
        assert_span(m.rtype, m.rtype_len, "shared_memory");
    }
}

static void parse_rejects_garbage(void **state)
{
    (void)state;
    struct rt_msg m;
    assert_int_equal(parse("", &m), RT_WIRE_MALFORMED);
    assert_int_equal(parse("   \n", &m), RT_WIRE_MALFORMED);
    assert_int_equal(parse("no colon at all", &m), RT_WIRE_MALFORMED);
    assert_int_equal(parse("REGISTER:onlyone", &m), RT_WIRE_MALFORMED);
    assert_int_equal(parse("DELETE:/x:semaphore", &m), RT_WIRE_UNKNOWN_CMD);
    assert_span(m.cmd_text, m.cmd_len, "DELETE");
    assert_int_equal(parse("register:/x:semaphore", &m), RT_WIRE_UNKNOWN_CMD);
    assert_int_equal(parse("REGISTER::semaphore", &m), RT_WIRE_BAD_NAME);
    assert_int_equal(rt__wire_parse((const unsigned char *)"REGISTER:/a\0b:s",
                                    15, scratch, &m),
                     RT_WIRE_BAD_NAME);
    assert_int_equal(parse("{", &m), RT_WIRE_MALFORMED);
    assert_int_equal(parse("{}", &m), RT_WIRE_MALFORMED);
    assert_int_equal(parse("{\"cmd\":\"REGISTER\"}", &m), RT_WIRE_MALFORMED);
    assert_int_equal(parse("{\"cmd\":1,\"rtype\":\"noop\"}", &m),
                     RT_WIRE_MALFORMED);
    assert_int_equal(parse("{\"cmd\":\"PROBE\",\"rtype\":\"noop\"} x", &m),
                     RT_WIRE_MALFORMED);
    assert_int_equal(parse("{\"cmd\":\"PROBE\",\"cmd\":\"PROBE\","
                           "\"rtype\":\"noop\"}",
                           &m),
                     RT_WIRE_MALFORMED);
    assert_int_equal(
        parse("{\"cmd\":\"PROBE\",\"rtype\":\"noop\",\"n\":[1,", &m),
        RT_WIRE_MALFORMED);
    assert_int_equal(parse("{\"cmd\":\"PROBE\",\"rtype\":\"noop\",\"n\":"
                           "[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}",
                           &m),
                     RT_WIRE_MALFORMED); /* nested past the bound */
    assert_int_equal(parse("{\"cmd\":\"REGISTER\",\"rtype\":\"semaphore\","
                           "\"base64_name\":\"L2E*\"}",
                           &m),
                     RT_WIRE_BAD_NAME);
    assert_int_equal(parse("{\"cmd\":\"REGISTER\",\"rtype\":\"semaphore\","
                           "\"base64_name\":\"AAAA\"}",
                           &m),
                     RT_WIRE_BAD_NAME); /* decodes to NUL bytes */
    assert_int_equal(parse("{\"cmd\":\"REGISTER\",\"rtype\":\"semaphore\","
                           "\"base64_name\":\"\\ud800\"}",
                           &m),
                     RT_WIRE_MALFORMED); /* lone surrogate */
    assert_int_equal(
        parse("{\"cmd\":\"REGISTER\",\"rtype\":\"semaphore\"}", &m),
        RT_WIRE_BAD_NAME);
}

static const char *repr(const char *s, size_t n)
{
    static char out[4096];
    size_t pos = 0;
    if (rt__diag_repr(out, sizeof(out) - 1, &pos, (const unsigned char *)s, n) <
        0) {
        return "<overflow>";
    }
    out[pos] = '\0';
    return out;
}

/* Expected values are what Python 3 prints for repr(name) where name is
 * bytes.decode('utf-8', 'surrogateescape'). */
static void repr_matches_python(void **state)
{
    (void)state;
    assert_string_equal(repr("/psm_1", 6), "'/psm_1'");
    assert_string_equal(repr("/a\nb\tc\r", 7), "'/a\\nb\\tc\\r'");
    assert_string_equal(repr("it's", 4), "\"it's\"");
    assert_string_equal(repr("'\"", 2), "'\\'\"'");
    assert_string_equal(repr("a\\b", 3), "'a\\\\b'");
    assert_string_equal(repr("\x01\x7f", 2), "'\\x01\\x7f'");
    assert_string_equal(repr("caf\xc3\xa9", 5), "'caf\xc3\xa9'");
    assert_string_equal(repr("\xff\xc3", 2), "'\\udcff\\udcc3'");
    assert_string_equal(repr("\xc2\x85\xc2\xa0", 4), "'\\x85\\xa0'");
    assert_string_equal(repr("\xe2\x80\xa8", 3), "'\\u2028'");
    assert_string_equal(repr("\xf0\x9f\x98\x80", 4), "'\xf0\x9f\x98\x80'");
    assert_string_equal(repr("\xed\xa0\x80", 3), "'\\udced\\udca0\\udc80'");
    assert_string_equal(repr("\xf3\xb0\x80\x80", 4), "'\\U000f0000'");
    char small[4];
    size_t pos = 0;
    assert_int_equal(rt__diag_repr(small, sizeof(small), &pos,
                                   (const unsigned char *)"abcdef", 6),
                     -1);
    assert_int_equal(pos, 0);
}

/* UTF-8 of code point CP into OUT; its length. */
static size_t utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Every code point but the surrogates, 64 to a name, against the repr()
 * of the Python on this machine (skipped without one). The table in
 * printable.c comes from Python 3.11 (Unicode 14): a Python of another
 * Unicode version differs on the code points assigned since. */
static void repr_matches_python_for_every_code_point(void **state)
{
    (void)state;
    static const char script[] =
        "python3 -c '\n"
        "import sys, unicodedata\n"
        "if unicodedata.unidata_version != \"14.0.0\": sys.exit(3)\n"
        "cps = [c for c in range(1, 0x110000) if not 0xD800 <= c < 0xE000]\n"
        "for i in range(0, len(cps), 64):\n"
        "    s = \"\".join(map(chr, cps[i:i + 64]))\n"
        "    sys.stdout.buffer.write(repr(s).encode() + b\"\\n\")\n"
        "' 2>/dev/null";
    FILE *py = popen(script, "r");
    if (py == NULL) {
        skip();
    }
    static char line[4096];
    char name[64 * 4];
    size_t len = 0;
    int count = 0;
    int lines = 0;
    int bad = 0;
    for (uint32_t cp = 1; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp < 0xE000) {
            continue;
        }
        len += utf8(cp, name + len);
        if (++count < 64 && cp != 0x10FFFF) {
            continue;
        }
        if (fgets(line, sizeof(line), py) == NULL) {
            break;
        }
        lines++;
        line[strcspn(line, "\n")] = '\0';
        const char *ours = repr(name, len);
        if (strcmp(ours, line) != 0 && bad++ < 3) {
            print_error("from U+%04X: python %s, ours %s\n",
                        (unsigned)cp - (unsigned)count + 1, line, ours);
        }
        len = 0;
        count = 0;
    }
    int st = pclose(py);
    if (lines == 0 && st != 0) {
        skip(); /* no python3, or another Unicode version */
    }
    assert_int_equal(bad, 0);
    assert_int_equal(lines, (0x110000 - 1 - 0x800 + 63) / 64);
}

static void errtab_has_this_libcs_texts(void **state)
{
    (void)state;
    assert_string_equal(rt__errtab[ENOENT], strerror(ENOENT));
    assert_string_equal(rt__errtab[EACCES], strerror(EACCES));
    assert_string_equal(rt__errtab[ENAMETOOLONG], strerror(ENAMETOOLONG));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_colon_form),
        cmocka_unit_test(encode_json_form_for_unprintable_names),
        cmocka_unit_test(encode_limits),
        cmocka_unit_test(parse_colon_form),
        cmocka_unit_test(parse_json_form),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(parse_rejects_garbage),
        cmocka_unit_test(repr_matches_python),
        cmocka_unit_test(repr_matches_python_for_every_code_point),
        cmocka_unit_test(errtab_has_this_libcs_texts),
    };
    return RT_RUN(tests);
}
