import Foundation
import Support

/// A content-addressed store of build results: `<root>/<stage>/<key>/`. An entry appears only by
/// renaming a finished directory into place, so a killed build never leaves a broken entry.
public struct BuildCache: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    public func entry(stage: String, key: String) -> URL {
        root.appendingPathComponent(stage).appendingPathComponent(key)
    }

    public func lookup(stage: String, key: String) -> URL? {
        let url = entry(stage: stage, key: key)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// Returns the entry for `key`, running `produce` into a scratch directory first if it is
    /// missing. `cached` tells whether it was a hit.
    public func fetch(stage: String, key: String,
                      produce: (URL) throws -> Void) throws -> (url: URL, cached: Bool) {
        if let hit = lookup(stage: stage, key: key) { return (hit, true) }
        let scratch = try makeScratchDirectory(for: stage)
        do {
            try produce(scratch)
            return (try commit(scratch, stage: stage, key: key), false)
        } catch {
            try? FileManager.default.removeItem(at: scratch)
            throw error
        }
    }

    /// Renames a finished scratch directory into place as the entry for `key`.
    public func commit(_ scratch: URL, stage: String, key: String) throws -> URL {
        let destination = entry(stage: stage, key: key)
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        do {
            try AtomicFile.commit(scratch, to: destination)
        } catch where lookup(stage: stage, key: key) != nil {
            // Another build sharing the cache finished the same entry first; equal keys, equal content.
            try? FileManager.default.removeItem(at: scratch)
        }
        return destination
    }

    /// A fresh directory under `<root>/tmp`, on the same filesystem as the entries so the final
    /// rename is atomic.
    public func makeScratchDirectory(for purpose: String) throws -> URL {
        let url = root.appendingPathComponent("tmp")
            .appendingPathComponent("\(purpose)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Removes scratch directories left by builds that were killed; only those of processes
    /// that no longer run, so two builds may share a cache.
    /// A rootless build's scratch may hold files owned by subordinate ids; `namespace` removes those.
    public func removeAbandonedScratch(using namespace: UserNamespace? = nil) {
        let tmp = root.appendingPathComponent("tmp")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? [] {
            let parts = name.split(separator: "-")
            guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]),
                  kill(pid, 0) != 0 else { continue }
            let url = tmp.appendingPathComponent(name)
            if let namespace { namespace.removeTree(url) } else { try? FileManager.default.removeItem(at: url) }
        }
    }
}
