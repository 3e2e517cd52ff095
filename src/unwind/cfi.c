/* cfi.c: reads untrusted CFI: encodings, CIEs, FDE ranges, program bounds, a section's own image.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "unwind/cfi.h"

/* DW_EH_PE_* pointer encodings (LSB 4.1, .eh_frame) */
enum {
	PE_ABSPTR = 0x00,
	PE_ULEB128 = 0x01,
	PE_UDATA2 = 0x02,
	PE_UDATA4 = 0x03,
	PE_UDATA8 = 0x04,
	PE_SLEB128 = 0x09,
	PE_SDATA2 = 0x0a,
	PE_SDATA4 = 0x0b,
	PE_SDATA8 = 0x0c,
	PE_PCREL = 0x10,
	PE_OMIT = 0xff,
};

/*
 * libdw's CFI interpreter sizes a frame's register array by the largest register number the
 * program names (up to 2^28 registers: 2 GiB, zeroed), and copies the array at every
 * DW_CFA_remember_state. A few bytes of CFI could so make leaktop allocate gigabytes at every row
 * it asks for. libdw therefore runs no program of a section before all of them have been read
 * here: x86-64 numbers its registers below 256 (psABI figure 3.36), and compilers nest a
 * remembered state or two.
 */
#define CFI_MAX_REG   255
#define CFI_MAX_DEPTH 16

/* The CIEs of one section: the pointer encoding each gives its FDEs. */
struct cie_enc {
	uint64_t offset;
	uint8_t fde_enc;
	bool ok;	      /* an augmentation this file understands */
	bool sized_aug;	      /* 'z': each FDE's augmentation data starts with its length */
	uint64_t fde_aug_len; /* otherwise its length */
};

/*
 * A section's bytes in an ELF image of their own, for libdw. On the object itself libdw would
 * also follow .eh_frame_hdr's search table, which can point into the middle of an entry: at
 * bytes never read as the program libdw then runs.
 */
struct cfi_section {
	char *bytes;	/* the image; NULL when the section is read in place */
	Elf *elf;	/* the image's handle, or NULL */
	Elf_Data *data; /* the section's contents */
	const unsigned char *ident;
	uint64_t sh_addr;
	bool eh_frame;
	struct cie_enc *cies;
	size_t nr_cies;
	size_t nr_fdes;
	bool cies_bounded; /* every CIE's program is */
};

/* Reads one LEB128 number at *p; is_signed sign-extends it. 0, or -EINVAL when it runs past end. */
static int read_leb(const uint8_t **p, const uint8_t *end, bool is_signed, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int shift = 0;

	while (*p < end) {
		uint8_t byte = *(*p)++;

		if (shift < 64)
			v |= (uint64_t)(byte & 0x7f) << shift;
		shift += 7;
		if (!(byte & 0x80)) {
			if (is_signed && shift < 64 && (byte & 0x40))
				v |= ~0ULL << shift;
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

/* A fixed-size value of the encoding's size (2, 4 or 8 bytes), sign-extended when it says so. */
static int read_fixed(const uint8_t **p, const uint8_t *end, uint8_t format, uint64_t *out)
{
	size_t size = format == PE_UDATA2 || format == PE_SDATA2   ? 2
		      : format == PE_UDATA4 || format == PE_SDATA4 ? 4
								   : 8;

	if ((size_t)(end - *p) < size)
		return -EINVAL;
	if (size == 2) {
		uint16_t u;

		memcpy(&u, *p, 2);
		*out = format == PE_SDATA2 ? (uint64_t)(int64_t)(int16_t)u : u;
	} else if (size == 4) {
		uint32_t u;

		memcpy(&u, *p, 4);
		*out = format == PE_SDATA4 ? (uint64_t)(int64_t)(int32_t)u : u;
	} else {
		memcpy(out, *p, 8);
	}
	*p += size;
	return 0;
}

/*
 * Reads one encoded pointer at *p (x86-64 is little-endian, as the host). field_vaddr is the
 * address of the field itself, for pc-relative encodings. Encodings an FDE's range never uses on
 * x86-64 (data-, text-, function-relative, aligned, indirect) are refused.
 */
static int read_encoded(const uint8_t **p, const uint8_t *end, uint8_t enc, uint64_t field_vaddr,
			uint64_t *out)
{
	uint64_t v = 0;
	int err;

	switch (enc & 0x0f) {
	case PE_ULEB128:
	case PE_SLEB128:
		err = read_leb(p, end, (enc & 0x0f) == PE_SLEB128, &v);
		break;
	case PE_ABSPTR:
	case PE_UDATA8:
	case PE_SDATA8:
	case PE_UDATA2:
	case PE_SDATA2:
	case PE_UDATA4:
	case PE_SDATA4:
		err = read_fixed(p, end, enc & 0x0f, &v);
		break;
	default:
		return -EINVAL;
	}
	if (err)
		return err;
	switch (enc & 0x70) {
	case 0:
		break;
	case PE_PCREL:
		v += field_vaddr;
		break;
	default:
		return -EINVAL;
	}
	if (enc & 0x80)
		return -EINVAL;
	*out = v;
	return 0;
}

/* The FDE pointer encoding a CIE announces ('R' in its augmentation); absptr without one. */
static bool cie_fde_encoding(const Dwarf_CIE *cie, uint8_t *enc)
{
	const char *aug = cie->augmentation;
	const uint8_t *p = cie->augmentation_data;
	const uint8_t *end = p ? p + cie->augmentation_data_size : NULL;

	*enc = PE_ABSPTR;
	if (!aug || !aug[0])
		return true;
	if (aug[0] != 'z' || !p)
		return false;
	for (aug++; *aug; aug++) {
		uint64_t ignored;

		switch (*aug) {
		case 'R':
			if (p >= end)
				return false;
			*enc = *p++;
			break;
		case 'L':
			if (p >= end)
				return false;
			p++;
			break;
		case 'P':
			if (p >= end)
				return false;
			/* The personality routine's address: only its size matters here. */
			if (read_encoded(&p, end, *p++ & 0x0f, 0, &ignored))
				return false;
			break;
		case 'S':
		case 'B':
			break;
		default:
			return false;
		}
	}
	return true;
}

/* How a CFA instruction whose opcode is not in its top two bits is read, for the bound check. */
enum op_kind { OP_UNKNOWN, OP_ARGS, OP_DELTA, OP_REMEMBER, OP_RESTORE, OP_SET_LOC };
enum { ARG_REG = 1, ARG_NUM = 2, ARG_BLOCK = 4 };

struct cfa_op {
	uint8_t kind; /* enum op_kind; OP_UNKNOWN for what libdw does not know either */
	uint8_t args; /* OP_ARGS: ARG_* in the order read; OP_DELTA: the delta's size in bytes */
};

static const struct cfa_op cfa_ops[64] = {
    [DW_CFA_nop] = {OP_ARGS, 0},
    [DW_CFA_GNU_window_save] = {OP_ARGS, 0},
    [DW_CFA_remember_state] = {OP_REMEMBER, 0},
    [DW_CFA_restore_state] = {OP_RESTORE, 0},
    [DW_CFA_set_loc] = {OP_SET_LOC, 0},
    [DW_CFA_advance_loc1] = {OP_DELTA, 1},
    [DW_CFA_advance_loc2] = {OP_DELTA, 2},
    [DW_CFA_advance_loc4] = {OP_DELTA, 4},
    [DW_CFA_MIPS_advance_loc8] = {OP_DELTA, 8},
    [DW_CFA_def_cfa_offset] = {OP_ARGS, ARG_NUM},
    [DW_CFA_def_cfa_offset_sf] = {OP_ARGS, ARG_NUM},
    [DW_CFA_GNU_args_size] = {OP_ARGS, ARG_NUM},
    [DW_CFA_def_cfa_expression] = {OP_ARGS, ARG_BLOCK},
    [DW_CFA_restore_extended] = {OP_ARGS, ARG_REG},
    [DW_CFA_undefined] = {OP_ARGS, ARG_REG},
    [DW_CFA_same_value] = {OP_ARGS, ARG_REG},
    [DW_CFA_def_cfa_register] = {OP_ARGS, ARG_REG},
    [DW_CFA_offset_extended] = {OP_ARGS, ARG_REG | ARG_NUM},
    [DW_CFA_register] = {OP_ARGS, ARG_REG | ARG_NUM},
    [DW_CFA_def_cfa] = {OP_ARGS, ARG_REG | ARG_NUM},
    [DW_CFA_offset_extended_sf] = {OP_ARGS, ARG_REG | ARG_NUM},
    [DW_CFA_def_cfa_sf] = {OP_ARGS, ARG_REG | ARG_NUM},
    [DW_CFA_val_offset] = {OP_ARGS, ARG_REG | ARG_NUM},
    [DW_CFA_val_offset_sf] = {OP_ARGS, ARG_REG | ARG_NUM},
    [DW_CFA_GNU_negative_offset_extended] = {OP_ARGS, ARG_REG | ARG_NUM},
    [DW_CFA_expression] = {OP_ARGS, ARG_REG | ARG_BLOCK},
    [DW_CFA_val_expression] = {OP_ARGS, ARG_REG | ARG_BLOCK},
};

/*
 * Reads the operands args of one instruction at *p. false when one is cut off by the end of the
 * program (libdw would read part of it) or names a register above CFI_MAX_REG.
 */
static bool read_args(const uint8_t **p, const uint8_t *end, uint8_t args)
{
	uint64_t v;

	if ((args & ARG_REG) && (read_leb(p, end, false, &v) || v > CFI_MAX_REG))
		return false;
	if ((args & ARG_NUM) && read_leb(p, end, false, &v))
		return false;
	if (args & ARG_BLOCK) {
		if (read_leb(p, end, false, &v) || v > (uint64_t)(end - *p))
			return false;
		*p += v;
	}
	return true;
}

/* Whether one CFI program stays within CFI_MAX_REG and CFI_MAX_DEPTH, read as libdw reads it. */
static bool program_bounded(const uint8_t *p, const uint8_t *end, uint8_t fde_enc)
{
	unsigned int depth = 0;
	uint64_t v;

	while (p < end) {
		uint8_t op = *p++;
		struct cfa_op how;

		switch (op >> 6) {
		case 1: /* DW_CFA_advance_loc */
		case 3: /* DW_CFA_restore: the register in the low six bits */
			continue;
		case 2: /* DW_CFA_offset */
			if (read_leb(&p, end, false, &v))
				return false;
			continue;
		}
		how = cfa_ops[op];
		switch (how.kind) {
		case OP_UNKNOWN:
			/* libdw stops at an opcode it does not know: nothing after it runs. */
			return true;
		case OP_REMEMBER:
			if (++depth > CFI_MAX_DEPTH)
				return false;
			break;
		case OP_RESTORE:
			depth -= depth > 0;
			break;
		case OP_SET_LOC:
			if (read_encoded(&p, end, fde_enc, 0, &v))
				return false;
			break;
		case OP_DELTA:
			if ((size_t)(end - p) < how.args)
				return false;
			p += how.args;
			break;
		default:
			if (!read_args(&p, end, how.args))
				return false;
		}
	}
	return true;
}

/*
 * The entry at *off or, past one that cannot be read, the next one, as libdw's FDE search steps
 * through a section. 0, or 1 at the end.
 */
static int next_entry(const struct cfi_section *s, Dwarf_Off *off, Dwarf_Off *next,
		      Dwarf_CFI_Entry *e)
{
	for (;;) {
		int ret;

		*next = *off;
		ret = dwarf_next_cfi(s->ident, s->data, s->eh_frame, *off, next, e);
		if (!ret)
			return 0;
		if (ret > 0 || *next == *off)
			return 1;
		*off = *next;
	}
}

static const struct cie_enc *cie_find(const struct cfi_section *s, uint64_t offset)
{
	for (size_t i = 0; i < s->nr_cies; i++)
		if (s->cies[i].offset == offset)
			return &s->cies[i];
	return NULL;
}

/* An FDE's range, and where its program starts; the CIE gives the encoding. 0 or -EINVAL. */
static int fde_range(const struct cfi_section *s, const Dwarf_CFI_Entry *e,
		     const struct cie_enc *cie, uint64_t *lo, uint64_t *len, const uint8_t **prog)
{
	const uint8_t *p = e->fde.start, *end = e->fde.end;
	uint64_t aug = cie->fde_aug_len;

	if (!cie->ok ||
	    read_encoded(&p, end, cie->fde_enc,
			 s->sh_addr + (uint64_t)(p - (const uint8_t *)s->data->d_buf), lo) ||
	    read_encoded(&p, end, cie->fde_enc & 0x0f, 0, len) ||
	    (cie->sized_aug && read_leb(&p, end, false, &aug)) || aug > (uint64_t)(end - p))
		return -EINVAL;
	*prog = p + aug;
	return 0;
}

/*
 * The CIEs of the section (FDEs may name one that follows them); counts the FDEs, and whether
 * every CIE's program is bounded. 0 or -ENOMEM.
 */
static int read_cies(struct cfi_section *s)
{
	size_t cap = 0;
	Dwarf_Off off, next;
	Dwarf_CFI_Entry e;

	s->cies_bounded = true;
	for (off = 0; !next_entry(s, &off, &next, &e); off = next) {
		struct cie_enc *c;

		if (!dwarf_cfi_cie_p(&e)) {
			s->nr_fdes++;
			continue;
		}
		if (array_reserve(&s->cies, &cap, s->nr_cies, sizeof(*s->cies), 16))
			return -ENOMEM;
		c = &s->cies[s->nr_cies++];
		c->offset = off;
		c->ok = cie_fde_encoding(&e.cie, &c->fde_enc);
		c->sized_aug = e.cie.augmentation && e.cie.augmentation[0] == 'z';
		c->fde_aug_len = e.cie.fde_augmentation_data_size;
		s->cies_bounded &= program_bounded(e.cie.initial_instructions,
						   e.cie.initial_instructions_end, c->fde_enc);
	}
	return 0;
}

/* The FDE at or after *off: its CIE and entry. 0, -EINVAL (no CIE of the section), 1 at the end. */
static int next_fde(const struct cfi_section *s, uint64_t *off, Dwarf_CFI_Entry *e,
		    const struct cie_enc **cie)
{
	Dwarf_Off at = *off, next;

	for (; !next_entry(s, &at, &next, e); at = next) {
		if (dwarf_cfi_cie_p(e))
			continue;
		*off = next;
		*cie = cie_find(s, e->fde.CIE_pointer);
		return *cie ? 0 : -EINVAL;
	}
	*off = at;
	return 1;
}

int cfi_section__next_fde(const struct cfi_section *s, uint64_t *pos, uint64_t *lo, uint64_t *len)
{
	const struct cie_enc *cie;
	const uint8_t *prog;
	Dwarf_CFI_Entry e;
	int ret = next_fde(s, pos, &e, &cie);

	if (ret)
		return ret;
	return fde_range(s, &e, cie, lo, len, &prog);
}

bool cfi_section__bounded(const struct cfi_section *s)
{
	const struct cie_enc *cie;
	const uint8_t *prog;
	Dwarf_CFI_Entry e;
	uint64_t off = 0, lo, len;
	int ret;

	if (!s->cies_bounded)
		return false;
	/* An FDE whose CIE is not one of these would make libdw read a CIE anywhere. */
	while ((ret = next_fde(s, &off, &e, &cie)) != 1) {
		if (ret || fde_range(s, &e, cie, &lo, &len, &prog) ||
		    !program_bounded(prog, e.fde.end, cie->fde_enc))
			return false;
	}
	return true;
}

Elf_Scn *cfi_find_section(Elf *elf, const char *name, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, shdr) || shdr->sh_type == SHT_NOBITS)
			continue;
		n = elf_strptr(elf, shstrndx, shdr->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

/*
 * Copies section scn of elf (named name) into an image holding it and a section name table. The
 * image is ELF64, little-endian, as x86-64 objects are: 0, -EINVAL for any other object, -ENOMEM.
 */
static int image_open(struct cfi_section *s, Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr,
		      const char *name)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t name_len = strlen(name) + 1, str_off, sh_off, size;
	static const char strtab_name[] = ".shstrtab";
	const unsigned char *ident = (const unsigned char *)elf_getident(elf, NULL);
	Elf64_Ehdr *eh;
	Elf64_Shdr *sh;
	GElf_Ehdr ehdr;
	Elf_Scn *copy;
	GElf_Shdr copy_shdr;

	if (!data || !data->d_buf || !ident || ident[EI_CLASS] != ELFCLASS64 ||
	    ident[EI_DATA] != ELFDATA2LSB || !gelf_getehdr(elf, &ehdr))
		return -EINVAL;
	str_off = sizeof(*eh) + data->d_size;
	sh_off = (str_off + 1 + name_len + sizeof(strtab_name) + 7) & ~(size_t)7;
	size = sh_off + 3 * sizeof(*sh);
	s->bytes = calloc(1, size);
	if (!s->bytes)
		return -ENOMEM;
	eh = (Elf64_Ehdr *)s->bytes;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_DYN;
	/* libdw takes the ABI's initial CFI rules from the machine. */
	eh->e_machine = ehdr.e_machine;
	eh->e_version = EV_CURRENT;
	eh->e_shoff = sh_off;
	eh->e_ehsize = sizeof(*eh);
	eh->e_shentsize = sizeof(*sh);
	eh->e_shnum = 3;
	eh->e_shstrndx = 2;
	memcpy(s->bytes + sizeof(*eh), data->d_buf, data->d_size);
	memcpy(s->bytes + str_off + 1, name, name_len);
	memcpy(s->bytes + str_off + 1 + name_len, strtab_name, sizeof(strtab_name));
	sh = (Elf64_Shdr *)(s->bytes + sh_off);
	sh[1].sh_name = 1;
	sh[1].sh_type = SHT_PROGBITS;
	sh[1].sh_flags = shdr->sh_flags & SHF_ALLOC;
	sh[1].sh_addr = shdr->sh_addr;
	sh[1].sh_offset = sizeof(*eh);
	sh[1].sh_size = data->d_size;
	sh[1].sh_addralign = 1;
	sh[2].sh_name = 1 + (Elf64_Word)name_len;
	sh[2].sh_type = SHT_STRTAB;
	sh[2].sh_offset = str_off;
	sh[2].sh_size = 1 + name_len + sizeof(strtab_name);
	sh[2].sh_addralign = 1;

	s->elf = elf_memory(s->bytes, size);
	copy = s->elf ? elf_getscn(s->elf, 1) : NULL;
	s->data = copy ? elf_getdata(copy, NULL) : NULL;
	s->ident = s->elf ? (const unsigned char *)elf_getident(s->elf, NULL) : NULL;
	if (!s->data || !s->data->d_buf || !s->ident || !gelf_getshdr(copy, &copy_shdr))
		return -ENOMEM;
	s->sh_addr = copy_shdr.sh_addr;
	return 0;
}

struct cfi_section *cfi_section__new(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr,
				     const char *name)
{
	struct cfi_section *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return NULL;
	s->eh_frame = !strcmp(name, ".eh_frame");
	err = image_open(s, elf, scn, shdr, name);
	if (!err)
		err = read_cies(s);
	if (err) {
		cfi_section__free(s);
		errno = -err;
		return NULL;
	}
	return s;
}

Elf *cfi_section__elf(const struct cfi_section *s)
{
	return s->elf;
}

size_t cfi_section__nr_fdes(const struct cfi_section *s)
{
	return s->nr_fdes;
}

void cfi_section__free(struct cfi_section *s)
{
	if (!s)
		return;
	if (s->elf)
		elf_end(s->elf);
	free(s->bytes);
	free(s->cies);
	free(s);
}

int cfi_fde_range(Elf *elf, uint64_t vaddr, uint64_t *lo, uint64_t *hi)
{
	struct cfi_section s = {.eh_frame = true};
	GElf_Shdr shdr;
	Elf_Scn *scn = cfi_find_section(elf, ".eh_frame", &shdr);
	uint64_t off = 0, flo, len;
	int ret, err = -ENOENT;

	/* Entries are only parsed here, never run: the section itself will do. */
	s.data = scn ? elf_getdata(scn, NULL) : NULL;
	s.ident = (const unsigned char *)elf_getident(elf, NULL);
	s.sh_addr = scn ? shdr.sh_addr : 0;
	if (!s.data || !s.data->d_buf || !s.ident || read_cies(&s)) {
		free(s.cies);
		return -ENOENT;
	}
	while (err && (ret = cfi_section__next_fde(&s, &off, &flo, &len)) != 1) {
		if (ret || !flo || !len || vaddr < flo || vaddr - flo >= len)
			continue;
		*lo = flo;
		*hi = flo + len;
		err = 0;
	}
	free(s.cies);
	return err;
}
