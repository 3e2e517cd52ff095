/* fx_lines.h: source lines of the ELF fixtures that the tests assert; the fixtures check them. */
#ifndef FX_LINES_H
#define FX_LINES_H

#define FX_LINE_OUTER_CALL 20	/* prog.c: fx_outer calls fx_sink */
#define FX_LINE_INL_CALL   27	/* prog.c: the inlined fx_inl calls fx_sink */
#define FX_LINE_INL_SITE   32	/* prog.c: fx_inl_caller's use of fx_inl */
#define FX_LINE_DEEP_CALL  38	/* prog.c: fx_inl_deep (inlined twice) calls fx_sink */
#define FX_LINE_MID_SITE   43	/* prog.c: fx_inl_mid's use of fx_inl_deep */
#define FX_LINE_DEEP_SITE  48	/* prog.c: fx_deep_caller's use of fx_inl_mid */
#define FX_LINE_LIB_CALL   16	/* libfx.c: fx_lib_outer calls fx_lib_sink */
#define FX_LINE_GROW       10	/* widget.cc: ns::Widget::grow, all on one line */
#define FX_LINE_LTO_CALL   14	/* lto_inl.c: fx_lto_inl (inlined across units) calls fx_lto_sink */
#define FX_LINE_LTO_SITE   9	/* lto_main.c: fx_lto_caller's use of fx_lto_inl */

/* The body of fx_code_marker in libfx.c. */
#define FX_MARKER_BYTES { 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 }

#endif
