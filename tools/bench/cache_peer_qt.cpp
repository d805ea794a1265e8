// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Peer: Qt 6 QCache<QByteArray, Blob>, as an application would use it.
 *
 * Lookups wrap the request bytes with QByteArray::fromRawData(), which
 * allocates nothing; inserts build QByteArray(buf, len), which copies the
 * key, as any cache must. QCache owns a T* and deletes it on eviction:
 * Blob's operator delete does nothing, so the stored pointer is the same
 * opaque value every peer stores and no value allocation is counted.
 * QCache is not thread-safe: the threaded phases wrap it in a mutex.
 *
 * Two variants: as applications get it (a random hash seed, so on CPUs
 * with AES-NI Qt hashes QByteArray with its aeshash), and with hash seed 0
 * (what QT_HASH_SEED=0 gives: Qt's non-AES hash). On the 2-vCPU KVM guests
 * this project runs on, the aeshash path measured several times slower
 * than the other, so both are shown. QCache's table takes the global seed
 * when it is constructed and keeps it through clear() and growth, so the
 * seed-0 variant sets the deterministic seed only around its constructor.
 */
#include <QtCore/QByteArray>
#include <QtCore/QCache>
#include <QtCore/QHashSeed>

#include "cache_peers.h"

namespace
{

struct Blob {
	static void operator delete(void *) noexcept
	{
	}
};

typedef QCache<QByteArray, Blob> Cache;

Blob *value()
{
	return reinterpret_cast<Blob *>(bench_cache_value);
}

void *qc_create(size_t limit)
{
	return new Cache(static_cast<qsizetype>(limit));
}

void *qc_create_seed0(size_t limit)
{
	Cache *c;

	QHashSeed::setDeterministicGlobalSeed();
	c = new Cache(static_cast<qsizetype>(limit));
	QHashSeed::resetRandomGlobalSeed();
	return c;
}

void qc_destroy(void *c)
{
	delete static_cast<Cache *>(c);
}

inline bool qc_insert(void *c, const char *k, size_t len)
{
	return static_cast<Cache *>(c)->insert(QByteArray(k, len), value(), 1);
}

inline bool qc_find_one(void *c, const char *k, size_t len)
{
	return static_cast<Cache *>(c)->object(QByteArray::fromRawData(k, len));
}

inline bool qc_remove(void *c, const char *k, size_t len)
{
	return static_cast<Cache *>(c)->remove(QByteArray::fromRawData(k, len));
}

bool qc_get_or_insert_one(void *c, const char *k, size_t len)
{
	Cache *qc = static_cast<Cache *>(c);

	if (qc->object(QByteArray::fromRawData(k, len)))
		return true;
	qc->insert(QByteArray(k, len), value(), 1);
	return false;
}

CACHE_PEER_BATCH(qc_insert_batch, qc_insert(c, key, len))
CACHE_PEER_BATCH(qc_find_batch, qc_find_one(c, key, len))
CACHE_PEER_BATCH(qc_remove_batch, qc_remove(c, key, len))
CACHE_PEER_BATCH(qc_get_or_insert_batch, qc_get_or_insert_one(c, key, len))

void qc_clear(void *c)
{
	static_cast<Cache *>(c)->clear();
}

size_t qc_count(void *c)
{
	return static_cast<size_t>(static_cast<Cache *>(c)->count());
}

/* The two QCache peers differ only in their name and hash seed. */
constexpr struct cache_peer qc_peer(const char *name,
				    void *(*create)(size_t limit))
{
	return {
		name,
		false,
		create,
		qc_destroy,
		qc_insert_batch,
		qc_find_batch,
		qc_remove_batch,
		qc_get_or_insert_batch,
		qc_find_one,
		qc_get_or_insert_one,
		qc_find_one,
		qc_get_or_insert_one,
		qc_clear,
		qc_count,
		nullptr, /* memory: no count of its own */
		false, /* lookups_only */
		false, /* inexact */
		nullptr, /* thread_enter */
		nullptr, /* thread_exit */
	};
}

} // namespace

extern "C" const struct cache_peer cache_peer_qcache =
	qc_peer("QCache<QByteArray> (Qt " QT_VERSION_STR ")", qc_create);

extern "C" const struct cache_peer cache_peer_qcache_seed0 =
	qc_peer("QCache<QByteArray> hash seed 0", qc_create_seed0);
