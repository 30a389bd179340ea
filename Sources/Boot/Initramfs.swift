import Archive
import Foundation
import Support

/// The initramfs coresdk builds for every image: busybox, coreos-init's `/init` and helper, and
/// the kernel modules that reach the disk, dm-verity and /usr — a newc cpio, zstd-compressed,
/// written with `ArchiveWriter` (no cpio tool, no root: device nodes are just archive headers).
public struct Initramfs {
    /// Files the image must contain, by the recipe that provides them.
    public static let requiredFiles: [(path: String, recipe: String)] = [
        ("usr/lib/coreos-init/init", "coreos-init"),
        ("usr/lib/coreos-init/coreos-init-helper", "coreos-init"),
        ("usr/bin/busybox", "a recipe installing Debian's busybox-static"),
    ]

    public let rootfs: URL
    public let kernelVersion: String
    public let modules: [String]

    public init(rootfs: URL, kernelVersion: String, modules: [String]) {
        self.rootfs = rootfs
        self.kernelVersion = kernelVersion
        self.modules = modules
    }

    /// Writes the archive to `output` (via a temporary file) and returns the modules it holds, in load order.
    @discardableResult
    public func write(to output: URL, clock: BuildClock) throws -> [String] {
        for required in Self.requiredFiles {
            guard FileManager.default.fileExists(atPath: rootfs.appendingPathComponent(required.path).path) else {
                throw SupportError("the image has no /\(required.path), which the initramfs needs; add \(required.recipe) to the board's recipes")
            }
        }
        let moduleDirectory = "usr/lib/modules/\(kernelVersion)"
        let index = try KernelModules(directory: rootfs.appendingPathComponent(moduleDirectory))
        let closure = try index.closure(of: modules)

        var entries: [Entry] = ["bin", "dev", "etc", "lib", "lib/modules", "lib/modules/\(kernelVersion)",
                                "proc", "run", "sys", "sysroot", "tmp"].map { .directory($0) }
        entries.append(.characterDevice("dev/console", major: 5, minor: 1))
        entries.append(.file("init", source: rootfs.appendingPathComponent(Self.requiredFiles[0].path), mode: 0o755))
        entries.append(.file("bin/coreos-init-helper", source: rootfs.appendingPathComponent(Self.requiredFiles[1].path), mode: 0o755))
        entries.append(.file("bin/busybox", source: rootfs.appendingPathComponent(Self.requiredFiles[2].path), mode: 0o755))
        entries.append(.symlink("bin/sh", target: "busybox"))
        entries.append(.text("etc/initrd-release", "NAME=\"coreos-init\"\nID=coreos-init\n"))
        entries.append(.text("etc/initrd-modules", closure.map { $0.name + "\n" }.joined()))
        entries.append(.text("lib/modules/\(kernelVersion)/modules.dep", closure.map { $0.depLine + "\n" }.joined()))
        var directories: Set<String> = []
        for module in closure {
            var parent = (module.path as NSString).deletingLastPathComponent
            var missing: [String] = []
            while !parent.isEmpty, !directories.contains(parent) {
                directories.insert(parent)
                missing.insert("lib/modules/\(kernelVersion)/\(parent)", at: 0)
                parent = (parent as NSString).deletingLastPathComponent
            }
            entries += missing.map { .directory($0) }
            entries.append(.file("lib/modules/\(kernelVersion)/\(module.path)",
                                 source: index.directory.appendingPathComponent(module.path), mode: 0o644))
        }
        try AtomicFile.produce(output) { temporary in
            try Self.writeCpio(entries, to: temporary, mtime: clock.epoch)
        }
        return closure.map(\.name)
    }
}

/// One member of the archive.
enum Entry {
    case directory(String)
    case file(String, source: URL, mode: mode_t)
    case text(String, String)
    case symlink(String, target: String)
    case characterDevice(String, major: UInt32, minor: UInt32)

    var path: String {
        switch self {
        case .directory(let path), .file(let path, _, _), .text(let path, _), .symlink(let path, _),
             .characterDevice(let path, _, _):
            return path
        }
    }
}

extension Initramfs {
    /// A newc cpio with zstd, every member root-owned with the build's mtime, inode numbers in
    /// write order: the same entries give the same bytes.
    static func writeCpio(_ entries: [Entry], to url: URL, mtime: Int) throws {
        let writer = try ArchiveWriter(file: url, format: .cpioNewc, compression: .zstd)
        for (index, member) in entries.enumerated() {
            var entry = ArchiveEntry(path: member.path, kind: .regular, permissions: 0o644,
                                     modificationTime: mtime, inode: Int64(index + 1))
            var contents = Data()
            switch member {
            case .directory:
                entry.kind = .directory
                entry.permissions = 0o755
                entry.linkCount = 2
            case .file(_, let source, let mode):
                contents = try Data(contentsOf: source)
                entry.permissions = UInt32(mode)
            case .text(_, let text):
                contents = Data(text.utf8)
            case .symlink(_, let target):
                entry.kind = .symlink(target: target)
                entry.permissions = 0o777
            case .characterDevice(_, let major, let minor):
                entry.kind = .characterDevice(major: major, minor: minor)
                entry.permissions = 0o600
            }
            try writer.write(entry, contents: contents)
        }
        try writer.finish()
    }
}
