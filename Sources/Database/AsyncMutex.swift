/// A lock for async code: waiters are suspended, not threads blocked, and are let in first come,
/// first served, so a burst of transactions cannot starve an early one.
actor AsyncMutex {
    private var isLocked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var firstWaiter = 0

    /// Runs `body` holding the lock. A task waiting for the lock is not woken by cancellation:
    /// the transactions queued behind a cancelled one would otherwise be reordered.
    nonisolated func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await lock()
        do {
            let result = try await body()
            await unlock()
            return result
        } catch {
            await unlock()
            throw error
        }
    }

    private func lock() async {
        guard isLocked else { isLocked = true; return }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func unlock() {
        guard firstWaiter < waiters.count else {
            isLocked = false
            waiters.removeAll(keepingCapacity: true)
            firstWaiter = 0
            return
        }
        // The lock passes straight to the next waiter: it stays locked.
        let next = waiters[firstWaiter]
        firstWaiter += 1
        if firstWaiter >= 256 {  // a lock that is never free would otherwise keep every waiter ever queued
            waiters.removeFirst(firstWaiter)
            firstWaiter = 0
        }
        next.resume()
    }
}
