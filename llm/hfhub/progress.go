package hfhub

import (
	"sync"
	"time"
)

// progressInterval limits progress reports to about ten a second; the end
// of every file is always reported.
const progressInterval = 100 * time.Millisecond

// keyedMutex serialises work on one blob.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*sync.Mutex{}
	}
	m, ok := k.locks[key]
	if !ok {
		m = &sync.Mutex{}
		k.locks[key] = m
	}
	k.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// tracker adds up progress across the download goroutines and reports it.
type tracker struct {
	mu         sync.Mutex
	emit       func(Progress)
	lastEmit   time.Time
	fileDone   map[string]int64
	fileTotal  map[string]int64
	done       int64
	total      int64
	fetched    int64
	filesDone  int
	filesTotal int
}

func newTracker(files []remoteFile, emit func(Progress)) *tracker {
	t := &tracker{emit: emit, fileDone: map[string]int64{}, fileTotal: map[string]int64{}, filesTotal: len(files)}
	for _, f := range files {
		t.fileTotal[f.name] = f.size
		t.total += f.size
	}
	return t
}

// setTotal corrects a file's size with what the HEAD request said.
func (t *tracker) setTotal(name string, size int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += size - t.fileTotal[name]
	t.fileTotal[name] = size
}

// set records that name now has fileDone bytes, fetched of them new from
// the network, and reports it when it is time or the file is finished.
func (t *tracker) set(name string, fileDone, fetched int64, finished bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done += fileDone - t.fileDone[name]
	t.fileDone[name] = fileDone
	t.fetched += fetched
	if finished {
		t.filesDone++
	}
	now := time.Now()
	if t.emit == nil || !finished && now.Sub(t.lastEmit) < progressInterval {
		return
	}
	t.lastEmit = now
	// Called with the lock held: reports arrive one at a time and in order.
	t.emit(Progress{
		File:       name,
		FileDone:   fileDone,
		FileTotal:  t.fileTotal[name],
		Done:       t.done,
		Total:      t.total,
		FilesDone:  t.filesDone,
		FilesTotal: t.filesTotal,
		Fetched:    t.fetched,
	})
}

func (t *tracker) snapshot() Progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Progress{Done: t.done, Total: t.total, FilesDone: t.filesDone, FilesTotal: t.filesTotal, Fetched: t.fetched}
}
