import Disk
import Filesystems
import Foundation
import Recipes
import Rootfs
import Support

/// What the user asked for: one board, one version, where to write and cache.
public struct ImageRequest: Sendable {
    public var repository: URL
    public var board: String
    public var version: String
    public var outputRoot: URL
    public var cacheDirectory: URL
    public var clock: BuildClock
    /// Let apt choose every Debian version again (the lock is rewritten).
    public var updateLock: Bool
    /// Refuse, before installing anything, when the mirror no longer has a locked version.
    public var locked: Bool
    /// apt source lines replacing the host's (a snapshot mirror); empty: the host's apt sources.
    public var aptSources: [String]
    public var quiet: Bool

    public init(repository: URL, board: String, version: String, outputRoot: URL, cacheDirectory: URL,
                clock: BuildClock, updateLock: Bool = false, locked: Bool = false, aptSources: [String] = [],
                quiet: Bool = false) {
        self.repository = repository
        self.board = board
        self.version = version
        self.outputRoot = outputRoot
        self.cacheDirectory = cacheDirectory
        self.clock = clock
        self.updateLock = updateLock
        self.locked = locked
        self.aptSources = aptSources
        self.quiet = quiet
    }
}

/// coresdk's release version, written into version.txt (cache keys use the executable's digest).
public let coresdkVersion = "0.1.0"

/// Executes an ImagePlan: Debian packages → components → rootfs and filesystems → GPT disk (and
/// qcow2) → output directory. Each stage is cached under its plan key; the stages that must own
/// files as other users run as root of a user namespace when coresdk itself is not root.
public struct ImageBuilder {
    public let plan: ImagePlan

    public init(plan: ImagePlan) { self.plan = plan }

    public func build() throws -> BuildReport {
        let start = Date()
        let request = plan.request
        // Checked first, so a user without subordinate ids learns it before a minute of work.
        let namespace = UserNamespace.isRoot ? nil : try UserNamespace.forCurrentUser()
        let cache = BuildCache(root: request.cacheDirectory)
        cache.removeAbandonedScratch(using: namespace)
        let progress = ProgressReporter(totalSteps: 4 + plan.componentRecipes.count, quiet: request.quiet)
        var hits: [String] = [], misses: [String] = []
        func record(_ name: String, _ cached: Bool) { if cached { hits.append(name) } else { misses.append(name) } }

        // 1. Debian packages, one transaction for the whole board.
        let (plan, debian, drift) = try installDebianPackages(cache: cache, progress: progress)
        record("debian", drift.cached)

        // 2. Components from source and plain-file recipes, dependencies first.
        var componentTrees: [URL] = []
        for recipe in plan.componentRecipes {
            let key = plan.keys.components[recipe.name]!.cache
            let tree = try progress.step("component \(recipe.name) \(recipe.version ?? "")") {
                let result = try cache.fetch(stage: "component", key: key) { scratch in
                    var builder = ComponentBuilder(recipe: recipe, architecture: plan.board.arch.rawValue)
                    if !recipe.swiftProducts.isEmpty {
                        builder.swiftProducts = try progress.detail("swift build \(recipe.swiftProducts.joined(separator: ", ")) (release, static stdlib)") {
                            try SwiftProducts.build(for: recipe, packageRoot: SwiftProducts.packageRoot(of: request.repository),
                                                    scratch: cache.root.appendingPathComponent("swift-build"),
                                                    into: try cache.makeScratchDirectory(for: "products-\(recipe.name)"))
                        }
                    }
                    try builder.build(into: scratch.appendingPathComponent("destdir"),
                                      scratch: try cache.makeScratchDirectory(for: "work-\(recipe.name)"),
                                      clock: request.clock)
                }
                record("component:\(recipe.name)", result.cached)
                return (result.url.appendingPathComponent("destdir"), result.cached)
            }
            componentTrees.append(tree)
        }

        // 3. Rootfs and filesystems; files owned by root, etcd or core need root or a user namespace.
        let filesystems = try progress.step("rootfs and filesystems") {
            let result = try cache.fetch(stage: "filesystems", key: plan.keys.filesystems.cache) { scratch in
                let job = FilesystemJob(repository: request.repository.path, board: plan.board.name,
                                        version: request.version, epoch: request.clock.epoch,
                                        seed: plan.keys.filesystems.input,
                                        debianTarball: debian.appendingPathComponent("rootfs.tar").path,
                                        components: componentTrees.map(\.path), entry: scratch.path,
                                        quiet: request.quiet)
                try job.run(plan, in: namespace, scratch: cache, progress: progress)
            }
            record("filesystems", result.cached)
            return (result.url, result.cached)
        }
        let manifest = try FilesystemManifest.load(from: filesystems)

        // 4. The GPT disk and, when the board asks for it, its qcow2 twin.
        let disk = try progress.step(plan.board.outputs.contains(.qcow2) ? "GPT disk and qcow2" : "GPT disk") {
            let result = try cache.fetch(stage: "disk", key: plan.keys.disk.cache) { scratch in
                try DiskAssembler(partitions: plan.partitions, board: plan.board)
                    .assemble(filesystems: filesystems, manifest: manifest, into: scratch, progress: progress)
            }
            record("disk", result.cached)
            return (result.url, result.cached)
        }

        // 5. The output directory, which appears whole or not at all.
        let writer = OutputWriter(naming: plan.naming, board: plan.board, version: request.version,
                                  plan: plan.recipes, manifest: manifest, drift: drift.entries, clock: request.clock)
        var staged = try progress.step("output \(plan.outputDirectory.path)") {
            (try writer.stage(disk: disk, filesystems: filesystems, finalDirectory: plan.outputDirectory), false)
        }
        staged.report.cache = .init(hits: hits, misses: misses)
        staged.report.timings = progress.timings
        staged.report.totalSeconds = (Date().timeIntervalSince(start) * 1000).rounded() / 1000
        try staged.commit()
        return staged.report
    }

    /// The Debian stage. A cached entry for the lock as written is used as it is, even when the
    /// mirror has moved on. Otherwise mmdebstrap installs the locked versions the mirror still has
    /// and the mirror's for the rest; a version that moved is a warning (the default) or, with
    /// `--locked`, a refusal found in apt's index before anything is installed. The entry is
    /// stored under the versions actually installed, which the rewritten lock then names.
    private func installDebianPackages(cache: BuildCache, progress: ProgressReporter)
        throws -> (ImagePlan, URL, (entries: [LockDrift], cached: Bool)) {
        var plan = self.plan
        let request = plan.request
        let stepName = "debian packages (\(plan.bootstrap.packages.count) requested)"
        if let hit = cache.lookup(stage: "debian", key: plan.keys.debian.cache) {
            progress.step(stepName) { ((), true) }
            return (plan, hit, ([], true))
        }
        if request.locked {
            guard !plan.bootstrap.lock.packages.isEmpty else {
                throw SupportError("--locked: \(plan.lockURL.path) does not exist or locks nothing; build once without --locked to write it")
            }
            let scratch = try cache.makeScratchDirectory(for: "apt-index")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let missing = try progress.detail("checking the lock against the mirror's package index") {
                try plan.bootstrap.unavailableLockedVersions(scratch: scratch)
            }
            if !missing.isEmpty { throw LockedVersionsUnavailable(lock: plan.lockURL, drift: missing) }
        }
        var drift: [LockDrift] = []
        let entry = try progress.step(stepName) { () -> (URL, cached: Bool) in
            let scratch = try cache.makeScratchDirectory(for: "debian")
            do {
                let tarball = scratch.appendingPathComponent("rootfs.tar")
                try plan.bootstrap.run(into: tarball, clock: request.clock)
                let installed = PackageLock(packages: try DebianBootstrap.installedPackages(in: tarball))
                drift = plan.bootstrap.lock.drift(from: installed.packages)
                if request.locked, !drift.isEmpty { throw LockedVersionsUnavailable(lock: plan.lockURL, drift: drift) }
                if installed != plan.bootstrap.lock { plan = try plan.repinned(to: installed) }
                return (try cache.commit(scratch, stage: "debian", key: plan.keys.debian.cache), false)
            } catch {
                try? FileManager.default.removeItem(at: scratch)
                throw error
            }
        }
        if !drift.isEmpty {
            progress.warn("the mirror no longer has \(drift.count) locked Debian version(s); installed the mirror's "
                          + "and rewrote \(plan.lockURL.lastPathComponent) (use --locked to refuse instead):\n"
                          + drift.map { "  \($0.description)" }.joined(separator: "\n"))
        }
        let resolved = plan.bootstrap.lock.serialized
        if (try? String(contentsOf: plan.lockURL, encoding: .utf8)) != resolved {
            do {
                try AtomicFile.write(resolved, to: plan.lockURL)
            } catch {
                progress.warn("cannot rewrite \(plan.lockURL.path) (\(error.localizedDescription)); the next build installs the mirror's versions again")
            }
        }
        return (plan, entry, (drift, false))
    }
}

/// `--locked` and a lock the mirror cannot honour any more.
public struct LockedVersionsUnavailable: ReportableError {
    public let lock: URL
    public let drift: [LockDrift]

    public var details: ErrorDetails {
        let versions = drift.map { "  \($0.name): locked \($0.locked), mirror has \($0.installed)" }
        return ErrorDetails(message: "--locked, but the Debian mirror no longer has these locked versions:\n"
            + versions.joined(separator: "\n")
            + "\nBuild without --locked to install the mirror's versions and rewrite the lock, or point the build "
            + "at a snapshot mirror that still has them (the board's apt-sources, or --apt-source).",
            file: lock.path)
    }
}

/// Output file names, CoreOS-style: `<prefix>_production_image.bin` and friends.
public struct OutputNaming: Sendable {
    public let prefix: String
    public var rawImage: String { "\(prefix)_production_image.bin" }
    public var qcow2Image: String { "\(prefix)_production_qemu_image.img" }
    public var update: String { "\(prefix)_production_update.bin" }
    public var packages: String { "\(prefix)_production_image_packages.txt" }
    public var digests: String { "\(rawImage).DIGESTS" }
    public var qemuScript: String { "\(prefix)_production_qemu.sh" }

    /// What an output file is, as build.json's `role` says.
    public enum Role: String, Sendable {
        case rawDisk = "raw-disk", qcow2Disk = "qcow2-disk", usrPartition = "usr-partition", version
        case packageList = "package-list", digests, qemuScript = "qemu-script"
    }

    /// The output directory's files for a board's `outputs`, with their roles.
    public func files(for outputs: [Board.OutputFormat]) -> [(name: String, role: Role)] {
        var files: [(String, Role)] = []
        if outputs.contains(.raw) { files.append((rawImage, .rawDisk)) }
        if outputs.contains(.qcow2) { files.append((qcow2Image, .qcow2Disk)) }
        files += [(update, .usrPartition), ("version.txt", .version), (packages, .packageList)]
        if outputs.contains(.raw) { files.append((digests, .digests)) }
        files.append((qemuScript, .qemuScript))
        return files
    }

    /// The disk the QEMU script boots: the qcow2 when there is one.
    public func bootableImage(for outputs: [Board.OutputFormat]) -> String {
        outputs.contains(.qcow2) ? qcow2Image : rawImage
    }
}

/// A digest of a directory tree (names, types, modes, link targets, contents), for cache keys.
public enum TreeDigest {
    public static func digest(of directory: URL) throws -> String {
        var key = ContentKey("tree")
        for entry in try FileTree.entries(directory) {
            switch entry.kind {
            case .regular: key.add("f:\(entry.path):\(entry.permissions & 0o111)", try Digests.sha256(file: entry.url))
            case .symlink: key.add("l:\(entry.path)", try FileManager.default.destinationOfSymbolicLink(atPath: entry.url.path))
            case .directory, .other: key.add("d:\(entry.path)", "")
            }
        }
        return key.value
    }
}
