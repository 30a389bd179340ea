import Etcd

/// The reboot semaphore in etcd through the v3 API: locksmith's key and JSON, changed only by
/// compare-and-swap on the key's revision, so at most `max` machines hold a slot.
///
/// What the original lacks: each holder also owns `holders/<id>` under a lease of `leaseTTL`
/// seconds, kept alive by its locksmithd while the machine is up. A holder whose machine never
/// comes back loses the key when the lease runs out, and the next machine that finds the
/// semaphore full takes that holder out of it.
public final class EtcdRebootLock: RebootLock {
    public let client: EtcdClient
    public let key: String
    public let leaseTTL: Int
    /// The lease of this machine's holder key, kept alive by `refresh`.
    private var lease: Int64?

    public init(client: EtcdClient, group: String? = nil, leaseTTL: Int = 1800) {
        self.client = client
        key = RebootSemaphore.key(group: group)
        self.leaseTTL = leaseTTL
    }

    func holderKey(_ id: String) -> String {
        String(key.dropLast("semaphore".count)) + "holders/" + id
    }

    /// The semaphore and its revision; created as 1 of 1 when absent.
    public func read() throws -> (semaphore: RebootSemaphore, revision: Int64) {
        while true {
            if let (value, revision) = try client.get(key) { return (try RebootSemaphore(json: value), revision) }
            _ = try client.compareAndSwap(key, expectedModRevision: 0, newValue: RebootSemaphore().json)
        }
    }

    /// Read, change, compare-and-swap, until no one wrote in between.
    @discardableResult
    func change(_ body: (RebootSemaphore) throws -> RebootSemaphore) throws -> RebootSemaphore {
        while true {
            let (current, revision) = try read()
            let next = try body(current)
            if try client.compareAndSwap(key, expectedModRevision: revision, newValue: next.json) { return next }
        }
    }

    public func lock(_ id: String) throws {
        if try holds(id) { return try refresh(id) }
        try refresh(id)
        try change { current in
            var semaphore = current
            if semaphore.semaphore <= 0 {
                // Holders whose lease ran out never came back: their slots are free again.
                for holder in semaphore.holders where holder != id {
                    if try client.get(holderKey(holder)) == nil { semaphore = try semaphore.unlocked(by: holder) }
                }
            }
            return try semaphore.locked(by: id)
        }
    }

    public func unlock(_ id: String) throws {
        try change { current in
            guard current.holders.contains(id) else { return current }
            return try current.unlocked(by: id)
        }
        _ = try client.delete(holderKey(id))
        if let lease { try? client.revoke(lease) }
        lease = nil
    }

    public func holds(_ id: String) throws -> Bool { try read().semaphore.holders.contains(id) }

    /// Restarts the holder key's lease, or gives the key a new one (after a reboot, or when it ran out).
    public func refresh(_ id: String) throws {
        if let lease, (try? client.keepAlive(lease)) != nil, try client.get(holderKey(id)) != nil { return }
        let fresh = try client.grantLease(ttl: leaseTTL)
        try client.put(holderKey(id), value: Array(id.utf8), lease: fresh)
        lease = fresh
    }

    public func setMax(_ max: Int) throws -> (old: Int, new: Int) {
        var old = 0
        try change { current in
            old = current.max
            return current.withMax(max)
        }
        return (old, max)
    }
}
