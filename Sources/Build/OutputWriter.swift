import Boot
import Foundation
import Recipes
import Rootfs
import Support

/// Fills a hidden staging directory next to `out/<board>/<version>` and renames it into place,
/// so the output directory appears complete or not at all.
struct OutputWriter {
    let naming: OutputNaming
    let board: Board
    let version: String
    let plan: BuildPlan
    let manifest: FilesystemManifest
    /// Locked Debian versions the mirror no longer had, and what went in instead.
    let drift: [LockDrift]
    let clock: BuildClock

    struct Staged {
        let directory: URL
        let finalDirectory: URL
        var report: BuildReport

        /// Writes build.json and moves the directory to its final name, replacing an earlier build.
        func commit() throws {
            try report.json().write(to: directory.appendingPathComponent("build.json"))
            let fm = FileManager.default
            var previous: URL?
            if fm.fileExists(atPath: finalDirectory.path) {
                let old = finalDirectory.deletingLastPathComponent()
                    .appendingPathComponent(".\(finalDirectory.lastPathComponent).old-\(getpid())")
                try AtomicFile.commit(finalDirectory, to: old)
                previous = old
            }
            try AtomicFile.commit(directory, to: finalDirectory)
            if let previous { try? fm.removeItem(at: previous) }
        }
    }

    func stage(disk: URL, filesystems: URL, finalDirectory: URL) throws -> Staged {
        let parent = finalDirectory.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        removeAbandonedStaging(in: parent)
        let directory = parent.appendingPathComponent(".\(finalDirectory.lastPathComponent).partial-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            let diskManifest = try DiskManifest.load(from: disk)
            let digests = [naming.rawImage: diskManifest.rawSHA256, naming.qcow2Image: diskManifest.qcow2SHA256]
            for (name, role) in naming.files(for: board.outputs) {
                let destination = directory.appendingPathComponent(name)
                switch role {
                case .rawDisk: try copySparse(disk.appendingPathComponent(DiskAssembler.rawName), to: destination)
                case .qcow2Disk: try copySparse(disk.appendingPathComponent(DiskAssembler.qcow2Name), to: destination)
                case .usrPartition: try copySparse(filesystems.appendingPathComponent(FilesystemAssembler.usrImageName), to: destination)
                case .version:
                    try write(try ReleaseFiles.versionText(prefix: board.imagePrefix, version: version,
                                                           board: board.name, sdkVersion: coresdkVersion), to: destination)
                case .packageList: try write(packageList(), to: destination)
                case .digests:
                    try write(ReleaseFiles.digestsText(fileName: naming.rawImage, sha256: diskManifest.rawSHA256,
                                                       sha512: diskManifest.rawSHA512), to: destination)
                case .qemuScript: try write(QemuScript.text(imageName: naming.bootableImage(for: board.outputs)), to: destination, mode: 0o755)
                }
            }
            let files = try naming.files(for: board.outputs).map {
                try describe($0.name, role: $0.role, in: directory, sha256: digests[$0.name])
            }
            let report = BuildReport(board: board.name, version: version, sourceDateEpoch: clock.epoch,
                                     outputDirectory: finalDirectory.path, kernelVersion: manifest.kernelVersion,
                                     kernelCommandLine: manifest.kernelCommandLine, verity: manifest.verity,
                                     usr: manifest.usr, files: files, debianLockDrift: drift,
                                     cache: .init(hits: [], misses: []), timings: [], totalSeconds: 0)
            return Staged(directory: directory, finalDirectory: finalDirectory, report: report)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// Every Debian package and every recipe that went into the image, with its version; a
    /// package the mirror no longer had at its locked version says which one was locked.
    func packageList() -> String {
        let locked = Dictionary(drift.map { ($0.name, $0.locked) }, uniquingKeysWith: { a, _ in a })
        var lines = manifest.debianPackages.map {
            "debian \($0.name) \($0.version)" + (locked[$0.name].map { " (locked \($0) not in the mirror)" } ?? "")
        }
        lines += plan.recipes.map { "recipe \($0.name) \($0.version ?? "-") \($0.kind.rawValue)" }
        return lines.joined(separator: "\n") + "\n"
    }

    private func write(_ text: String, to url: URL, mode: mode_t = 0o644) throws {
        try Data(text.utf8).write(to: url)
        chmod(url.path, mode)
    }

    private func describe(_ name: String, role: OutputNaming.Role, in directory: URL, sha256: String?) throws -> BuildReport.OutputFile {
        let url = directory.appendingPathComponent(name)
        return BuildReport.OutputFile(name: name, path: url.lastPathComponent, role: role.rawValue,
                                      bytes: try fileSize(url), sha256: try sha256 ?? Digests.sha256(file: url))
    }

    private func copySparse(_ source: URL, to destination: URL) throws {
        try Command.run(["cp", "--sparse=always", source.path, destination.path])
    }

    /// Staging directories of killed builds (whose process is gone) are deleted.
    private func removeAbandonedStaging(in parent: URL) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parent.path)) ?? []
        where name.hasPrefix(".") && (name.contains(".partial-") || name.contains(".old-")) {
            guard let pid = Int32(name.split(separator: "-").last ?? ""), kill(pid, 0) != 0 else { continue }
            try? FileManager.default.removeItem(at: parent.appendingPathComponent(name))
        }
    }
}
