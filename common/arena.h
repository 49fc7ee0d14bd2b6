/* A bump allocator reset once per event: decoders take their scratch memory
 * here so that decoding one record allocates nothing in steady state. */
#ifndef CDC_ARENA_H
#define CDC_ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block_t;

typedef struct arena {
    arena_block_t *head;  /* block being filled */
    arena_block_t *spare; /* blocks kept by arena_reset for reuse */
    size_t limit;         /* 0: no limit; allocations past it fail */
    size_t used;          /* bytes handed out since the last reset */
} arena_t;

void arena_init(arena_t *a, size_t limit);
void arena_free(arena_t *a);

/* Forgets every allocation, keeping the memory for the next event. */
void arena_reset(arena_t *a);

/* Returns size bytes aligned for any type, or NULL past the limit or when
 * memory runs out.  The memory lives until the next reset. */
void *arena_alloc(arena_t *a, size_t size);

/* Copies n bytes and a terminating NUL into the arena. */
char *arena_strndup(arena_t *a, const char *s, size_t n);

#endif
