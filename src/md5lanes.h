/*
 * md5lanes.h - the MD5s of many byte ranges of one file, side by side.
 *
 * One MD5 is a chain: each 64-byte block needs the state the block before
 * left, so a core digests one stream at about 750 MB/s however it is
 * written, about the speed a loopback download delivers bytes.  A
 * multipart ETag is made of independent MD5s, one per part: with AVX2,
 * eight of them go through the 8 x 32-bit lanes of one register set at
 * once, several times the speed of one stream.  The parts are read back
 * from the file (the page cache, just written) into small lane buffers, so
 * memory stays HCDL_MD5_LANES x HCDL_MD5_LANE_BUF whatever the part size.
 *
 * The digests are MD5's own (RFC 1321): tests compare them with OpenSSL's
 * through every multipart ETag they check.  Without AVX2 (another CPU, or
 * another compiler) hcdl_md5_lanes_usable says 0 and callers keep
 * OpenSSL's one-stream MD5.
 */
#ifndef HCDL_MD5LANES_H
#define HCDL_MD5LANES_H

#define HCDL_MD5_LANES 8
#define HCDL_MD5_LANE_BUF (32 * 1024)

typedef struct {
    long long off, len;     /* the range of the file */
    unsigned char md[16];   /* its MD5, once digested */
} hcdl_md5_job;

typedef struct hcdl_md5_lanes hcdl_md5_lanes;

/* 1 when this build and this CPU digest lanes side by side. */
int hcdl_md5_lanes_usable(void);

/* What digests multipart MD5s here, for `hcdl --version`: "avx512vl-x8",
 * "avx2-x8" (the lanes' instruction set) or "openssl" (one stream). */
const char *hcdl_md5_lanes_name(void);

/* The lane buffers for the named implementation (NULL: the fastest this
 * CPU has), or NULL with errno ENOTSUP (not on this CPU or build) or
 * ENOMEM. */
hcdl_md5_lanes *hcdl_md5_lanes_new(const char *impl);
void hcdl_md5_lanes_free(hcdl_md5_lanes *w);

/* Digests each job's range of fd (read with pread: fd's offset is left
 * alone), up to HCDL_MD5_LANES at a time.  0, or -1 with errno set (EIO
 * when the file ends inside a range). */
int hcdl_md5_lanes_run(hcdl_md5_lanes *w, int fd, hcdl_md5_job *jobs, int n);

/* The same in steps, for a thread with other work between them: start,
 * then step until it returns 0 (all digested; -1 as above).  One step
 * reads and digests at most HCDL_MD5_LANE_BUF bytes in each lane.  jobs
 * must stay in place until the last step. */
void hcdl_md5_lanes_start(hcdl_md5_lanes *w, hcdl_md5_job *jobs, int n);
int hcdl_md5_lanes_step(hcdl_md5_lanes *w, int fd);

#endif
