/* Bump allocator made of chained blocks; reset keeps them for reuse. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_SIZE (64 * 1024)

struct arena_block {
    arena_block_t *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

void arena_init(arena_t *a, size_t limit)
{
    memset(a, 0, sizeof(*a));
    a->limit = limit;
}

static void free_chain(arena_block_t *b)
{
    while (b) {
        arena_block_t *next = b->next;

        free(b);
        b = next;
    }
}

void arena_free(arena_t *a)
{
    free_chain(a->head);
    free_chain(a->spare);
    a->head = a->spare = NULL;
    a->used = 0;
}

void arena_reset(arena_t *a)
{
    arena_block_t *b = a->head;

    /* Keep the blocks of ordinary size; an oversized one was for a rare
     * large value and is given back. */
    while (b) {
        arena_block_t *next = b->next;

        if (b->size == ARENA_BLOCK_SIZE) {
            b->used = 0;
            b->next = a->spare;
            a->spare = b;
        } else {
            free(b);
        }
        b = next;
    }
    a->head = NULL;
    a->used = 0;
}

void *arena_alloc(arena_t *a, size_t size)
{
    arena_block_t *b = a->head;
    size_t aligned = (size + 15) & ~(size_t)15;

    if (aligned < size)
        return NULL;
    if (a->limit && (aligned > a->limit || a->used > a->limit - aligned))
        return NULL;

    if (!b || b->size - b->used < aligned) {
        if (aligned <= ARENA_BLOCK_SIZE && a->spare) {
            b = a->spare;
            a->spare = b->next;
        } else {
            size_t size_block =
                aligned > ARENA_BLOCK_SIZE ? aligned : ARENA_BLOCK_SIZE;

            b = malloc(sizeof(*b) + size_block);
            if (!b)
                return NULL;
            b->size = size_block;
        }
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += aligned;
    a->used += aligned;
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);

    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
