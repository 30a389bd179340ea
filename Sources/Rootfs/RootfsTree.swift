import Archive
import Foundation
import Support

/// A staged root filesystem being assembled in a scratch directory, before it is split into the
/// /usr image and the ROOT partition.
public struct RootfsTree: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    public func path(_ relative: String) -> URL {
        root.appendingPathComponent(relative.hasPrefix("/") ? String(relative.dropFirst()) : relative)
    }

    /// Extracts a tarball (as mmdebstrap writes it) into the tree, keeping owners, modes, symlinks,
    /// hard links and extended attributes, with times clamped to `epoch`. Device nodes (mmdebstrap
    /// adds /dev/null and friends) are left out: /dev is devtmpfs at boot, and a user namespace may
    /// not create them, so root and rootless builds agree.
    public func extract(tarball: URL, clampTo epoch: Int) throws {
        try ArchiveReader(file: tarball).extract(into: root, clampingTimesTo: epoch) { $0.kind.isDevice }
    }

    /// Copies a component's installed tree (a recipe's $DESTDIR) over the rootfs.
    public func install(tree: URL) throws {
        try Command.run(["cp", "-a", "--no-target-directory", tree.path, root.path])
    }

    /// Lays an overlay from the source tree over the rootfs. Overlays come from a git checkout,
    /// whose owners and modes mean nothing: files become root-owned, 0644 or 0755 by the x bit.
    public func apply(overlay: URL) throws {
        for entry in try FileTree.entries(overlay) {
            let source = entry.url, relative = entry.path
            let destination = path(relative)
            switch entry.kind {
            case .directory:
                if !FileManager.default.fileExists(atPath: destination.path) {
                    try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
                    chmod(destination.path, 0o755)
                }
            case .symlink:
                try? FileManager.default.removeItem(at: destination)
                let target = try FileManager.default.destinationOfSymbolicLink(atPath: source.path)
                try FileManager.default.createSymbolicLink(atPath: destination.path, withDestinationPath: target)
                lchown(destination.path, 0, 0)
            case .regular:
                try? FileManager.default.removeItem(at: destination)
                try FileManager.default.copyItem(at: source, to: destination)
                chmod(destination.path, entry.permissions & 0o111 != 0 ? 0o755 : 0o644)
                chown(destination.path, 0, 0)
            case .other:
                throw SupportError("overlay \(overlay.lastPathComponent): \(relative) is not a file, directory or symlink")
            }
        }
    }

    /// Writes a file into the rootfs (root-owned), creating parent directories.
    public func write(_ text: String, to relative: String, mode: mode_t = 0o644) throws {
        let url = path(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: url)
        try Data(text.utf8).write(to: url)
        chmod(url.path, mode)
    }

    /// Where `disableUnits` records its units for systemd's first-boot `preset-all`, which would
    /// otherwise enable them again (Debian's default preset enables everything).
    public static let disabledUnitsPreset = "usr/lib/systemd/system-preset/20-coresdk-disabled.preset"

    public func hasUnit(_ unit: String) -> Bool {
        ["usr/lib/systemd/system", "lib/systemd/system", "etc/systemd/system"].contains {
            FileManager.default.fileExists(atPath: path("\($0)/\(unit)").path)
        }
    }

    /// Leaves `units` off at boot, as `systemctl disable` would: removes the symlinks that packages'
    /// maintainer scripts made under /etc/systemd/system (`.wants/`, `.requires/` and aliases), and
    /// writes `disable` presets. A unit the tree does not have is an error.
    public func disableUnits(_ units: [String]) throws {
        for unit in units where !hasUnit(unit) {
            throw SupportError("no unit \(unit) in the image's systemd unit directories")
        }
        let configuration = path("etc/systemd/system")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: configuration.path)) ?? []
        let directories = [configuration] + names.filter { $0.hasSuffix(".wants") || $0.hasSuffix(".requires") }
            .map { configuration.appendingPathComponent($0) }
        for directory in directories {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] {
                let link = directory.appendingPathComponent(name)
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: link.path) else { continue }
                if units.contains(name) || units.contains(URL(fileURLWithPath: target).lastPathComponent) {
                    try FileManager.default.removeItem(at: link)
                }
            }
        }
        guard !units.isEmpty else { return }
        try write("# Units coresdk recipes leave off (disabled-units); started by cloud-config or on demand.\n"
                  + units.map { "disable \($0)\n" }.joined(), to: Self.disabledUnitsPreset)
    }

    /// Sets every timestamp in the tree to at most `epoch`, so filesystem images are reproducible.
    public func clampTimestamps(to epoch: Int) throws {
        let time = timespec(tv_sec: epoch, tv_nsec: 0)
        var times = [time, time]
        // Children before parents: setting a child's time would otherwise touch its directory's again.
        for entry in try FileTree.entries(root).reversed() where entry.modificationTime > epoch || entry.accessTime > epoch {
            if utimensat(AT_FDCWD, entry.url.path, &times, AT_SYMLINK_NOFOLLOW) != 0 {
                throw SupportError(file: entry.url.path, "cannot set the time: \(String(cString: strerror(errno)))")
            }
        }
        utimensat(AT_FDCWD, root.path, &times, AT_SYMLINK_NOFOLLOW)
    }

    /// Total apparent size of the regular files below `relative`, for compression ratios.
    public func apparentSize(of relative: String = "") throws -> UInt64 {
        let base = relative.isEmpty ? self : RootfsTree(root: path(relative))
        return try FileTree.entries(base.root).filter { $0.kind == .regular }.reduce(0) { $0 + $1.size }
    }
}
