//! The process's memory, as the soak samples it: the heap's live bytes, counted by the global
//! allocator (exact, and blind to allocator caching), and the resident set from
//! `/proc/self/statm` (what an operator sees, fragmentation included).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes it has handed out and not yet taken back.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to the system allocator unchanged; only a counter is kept beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on as it is.
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let block = unsafe { System.alloc_zeroed(layout) };
        if !block.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: as `alloc`.
        unsafe { System.dealloc(block, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `alloc`.
        let moved = unsafe { System.realloc(block, layout, new_size) };
        if !moved.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        moved
    }
}

/// One reading of the process's memory.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// Simulated hours since the soak began.
    pub hour: f64,
    pub heap: usize,
    pub rss: usize,
}

impl Reading {
    pub fn now(hour: f64) -> Self {
        Self {
            hour,
            heap: LIVE.load(Ordering::Relaxed),
            rss: resident_bytes(),
        }
    }
}

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .unwrap()
        .unwrap();
    pages * usize::try_from(page).unwrap()
}

/// The readings of one soak, and what they say about growth.
#[derive(Debug, Default)]
pub struct Samples(pub Vec<Reading>);

/// Peaks of the heap and the resident set over a stretch of the soak.
#[derive(Debug, Clone, Copy, Default)]
pub struct Peaks {
    pub heap: usize,
    pub rss: usize,
}

impl Samples {
    /// The peaks over the readings taken from hour `from` to hour `to`.
    pub fn peaks(&self, from: f64, to: f64) -> Peaks {
        self.0
            .iter()
            .filter(|r| r.hour >= from && r.hour < to)
            .fold(Peaks::default(), |peaks, r| Peaks {
                heap: peaks.heap.max(r.heap),
                rss: peaks.rss.max(r.rss),
            })
    }

    pub fn first(&self) -> Reading {
        self.0[0]
    }

    pub fn last(&self) -> Reading {
        *self.0.last().unwrap()
    }
}

pub fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}
