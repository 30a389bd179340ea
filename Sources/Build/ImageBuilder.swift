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
    public var updateLock: Bool
    public var quiet: Bool

    public init(repository: URL, board: String, version: String, outputRoot: URL, cacheDirectory: URL,
                clock: BuildClock, updateLock: Bool = false, quiet: Bool = false) {
        self.repository = repository
        self.board = board
        self.version = version
        self.outputRoot = outputRoot
        self.cacheDirectory = cacheDirectory
        self.clock = clock
        self.updateLock = updateLock
        self.quiet = quiet
    }
}

/// coresdk's own version; part of every cache key so a new coresdk never reuses old results.
public let coresdkVersion = "0.1.0"

/// Builds a board's image: validate → Debian packages → components → rootfs → filesystems →
/// GPT disk → qcow2 → output directory. Each stage is cached by the content of its inputs.
public struct ImageBuilder {
    public let request: ImageRequest

    public init(request: ImageRequest) { self.request = request }

    public func build() throws -> BuildReport {
        let start = Date()
        let repository = RecipeRepository(root: request.repository)
        let board = try repository.loadBoard(named: request.board)
        let plan = try repository.plan(board: board)
        let naming = OutputNaming(prefix: board.imagePrefix)
        let partitions = try DiskPlanner.partitionSpecs(for: board)
        _ = try ReleaseFiles.versionText(prefix: board.imagePrefix, version: request.version,
                                         board: board.name, sdkVersion: coresdkVersion)
        let cache = BuildCache(root: request.cacheDirectory)
        cache.removeAbandonedScratch()
        let progress = ProgressReporter(totalSteps: 4 + plan.recipes.filter(ComponentBuilder.producesTree).count,
                                        quiet: request.quiet)
        var hits: [String] = [], misses: [String] = []
        func record(_ name: String, _ cached: Bool) { if cached { hits.append(name) } else { misses.append(name) } }

        // 1. Debian packages, one transaction for the whole board.
        let lockURL = request.repository.appendingPathComponent("boards/\(board.name).lock")
        let lock = request.updateLock ? PackageLock(packages: []) : try PackageLock.load(lockURL)
        let debianPackages = plan.recipes.filter { $0.kind == .debian }.flatMap(\.packages)
        let bootstrap = DebianBootstrap(packages: debianPackages, lock: lock,
                                        sources: try .fromHost(), architecture: board.arch.rawValue)
        let debianKey = bootstrap.cacheKey
        let debian = try progress.step("debian packages (\(bootstrap.packages.count) requested)") {
            let result = try cache.fetch(stage: "debian", key: debianKey) { scratch in
                try bootstrap.run(into: scratch.appendingPathComponent("rootfs.tar"),
                                  scratch: scratch, clock: request.clock)
            }
            record("debian", result.cached)
            return (result.url, result.cached)
        }

        // 2. Components from source and plain-file recipes, dependencies first.
        var componentKeys: [String: String] = [:]
        var componentTrees: [(Recipe, URL)] = []
        for recipe in plan.recipes {
            let dependencyKeys = plan.dependencyClosure(of: recipe.name).compactMap { componentKeys[$0] }
            var builder = ComponentBuilder(recipe: recipe, dependencyKeys: [debianKey] + dependencyKeys,
                                           architecture: board.arch.rawValue)
            if !recipe.swiftProducts.isEmpty {
                try progress.detail("swift build \(recipe.swiftProducts.joined(separator: ", ")) (release, static stdlib)") {
                    try builder.buildSwiftProducts()
                }
            }
            let key = try builder.cacheKey()
            componentKeys[recipe.name] = key
            guard builder.producesTree else { continue }
            let tree = try progress.step("component \(recipe.name) \(recipe.version ?? "")") {
                let result = try cache.fetch(stage: "component", key: key) { scratch in
                    try builder.build(into: scratch.appendingPathComponent("destdir"),
                                      scratch: try cache.makeScratchDirectory(for: "work-\(recipe.name)"),
                                      clock: request.clock)
                }
                record("component:\(recipe.name)", result.cached)
                return (result.url.appendingPathComponent("destdir"), result.cached)
            }
            componentTrees.append((recipe, tree))
        }

        // 3. Rootfs and filesystems, keyed by everything that goes into them.
        var fsKey = ContentKey("filesystems-v1")
        fsKey.add("coresdk", coresdkVersion)
        fsKey.add("board", board.text)
        fsKey.add("version", request.version)
        fsKey.add("epoch", String(request.clock.epoch))
        for recipe in plan.recipes { fsKey.add("recipe:\(recipe.name)", componentKeys[recipe.name]!) }
        for overlay in plan.overlays { fsKey.add("overlay:\(overlay.lastPathComponent)", try TreeDigest.digest(of: overlay)) }
        let filesystemsKey = fsKey.value
        let assembler = FilesystemAssembler(board: board, plan: plan, partitions: partitions,
                                            version: request.version, clock: request.clock, key: filesystemsKey)
        let filesystems = try progress.step("rootfs and filesystems") {
            let result = try cache.fetch(stage: "filesystems", key: filesystemsKey) { scratch in
                try assembler.assemble(debianTarball: debian.appendingPathComponent("rootfs.tar"),
                                       components: componentTrees.map(\.1), into: scratch,
                                       progress: progress)
            }
            record("filesystems", result.cached)
            return (result.url, result.cached)
        }
        let manifest = try FilesystemManifest.load(from: filesystems)
        try updateLockFile(at: lockURL, lock: lock, installed: manifest.debianPackages)

        // 4. The GPT disk and its qcow2 twin.
        var diskKeyBuilder = ContentKey("disk-v1")
        diskKeyBuilder.add("filesystems", filesystemsKey)
        let diskKey = diskKeyBuilder.value
        let disk = try progress.step("GPT disk and qcow2") {
            let result = try cache.fetch(stage: "disk", key: diskKey) { scratch in
                try DiskAssembler(partitions: partitions, board: board)
                    .assemble(filesystems: filesystems, manifest: manifest, into: scratch, progress: progress)
            }
            record("disk", result.cached)
            return (result.url, result.cached)
        }

        // 5. The output directory, which appears whole or not at all.
        let outputDirectory = request.outputRoot.appendingPathComponent(board.name)
            .appendingPathComponent(request.version)
        let writer = OutputWriter(naming: naming, board: board, version: request.version,
                                  plan: plan, manifest: manifest, clock: request.clock)
        var staged = try progress.step("output \(outputDirectory.path)") {
            (try writer.stage(disk: disk, filesystems: filesystems, finalDirectory: outputDirectory), false)
        }
        staged.report.cache = .init(hits: hits, misses: misses)
        staged.report.timings = progress.timings
        staged.report.totalSeconds = (Date().timeIntervalSince(start) * 1000).rounded() / 1000
        try staged.commit()
        return staged.report
    }

    /// Writes the resolved Debian versions next to the board when they differ from the lock,
    /// and refuses to continue silently when a locked version could not be installed.
    private func updateLockFile(at url: URL, lock: PackageLock, installed: [InstalledPackage]) throws {
        let drift = lock.drift(from: installed)
        if !drift.isEmpty {
            let lines = drift.prefix(10).map { "  \($0.name): locked \($0.locked), mirror has \($0.installed)" }
            throw SupportError("\(url.path): locked Debian versions are no longer available:\n"
                               + lines.joined(separator: "\n")
                               + "\nRun `coresdk build image --update-lock` to accept the mirror's versions.")
        }
        let resolved = PackageLock(packages: installed)
        if resolved != lock || !FileManager.default.fileExists(atPath: url.path) {
            try AtomicFile.write(resolved.serialized, to: url)
        }
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
}

/// A digest of a directory tree (names, types, modes, link targets, contents), for cache keys.
public enum TreeDigest {
    public static func digest(of directory: URL) throws -> String {
        var key = ContentKey("tree")
        guard let enumerator = FileManager.default.enumerator(atPath: directory.path) else { return key.value }
        var entries: [String] = []
        while let relative = enumerator.nextObject() as? String { entries.append(relative) }
        for relative in entries.sorted() {
            let url = directory.appendingPathComponent(relative)
            var info = stat()
            guard lstat(url.path, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFREG: key.add("f:\(relative):\(info.st_mode & 0o111)", try Digests.sha256(file: url))
            case S_IFLNK: key.add("l:\(relative)", (try? FileManager.default.destinationOfSymbolicLink(atPath: url.path)) ?? "")
            default: key.add("d:\(relative)", "")
            }
        }
        return key.value
    }
}
