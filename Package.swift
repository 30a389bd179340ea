// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "coresdk",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "coresdk", targets: ["coresdk"]),
        // Every in-image agent in one binary (cloud-config, update_engine and its client), built by
        // recipes/coreos-agent.
        .executable(name: "coreos-agent", targets: ["coreos-agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // C libraries, each behind one Swift wrapper type.
        .systemLibrary(name: "CFdisk", path: "Sources/CFdisk", pkgConfig: "fdisk",
                       providers: [.apt(["libfdisk-dev"])]),
        .systemLibrary(name: "CArchive", path: "Sources/CArchive", pkgConfig: "libarchive",
                       providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CBZip2", path: "Sources/CBZip2", providers: [.apt(["libbz2-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLibcrypto", path: "Sources/CLibcrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),

        // Domain modules.
        // Byte codecs (base64) shared by the standard-library-only modules.
        .target(name: "Codecs"),
        .target(name: "Support", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Recipes", dependencies: ["Support", "Yams"]),
        // Files and commands through POSIX calls, without Foundation: what the in-image agents stand on.
        .target(name: "Posix"),
        // The A/B slots, their GPT bits and boot files: standard library only, shared with the agents.
        .target(name: "SlotLayout"),
        .target(name: "Disk", dependencies: ["Support", "SlotLayout", "CFdisk"]),
        .target(name: "Filesystems", dependencies: ["Support"]),
        .target(name: "Archive", dependencies: ["Support", "CArchive"]),
        .target(name: "Rootfs", dependencies: ["Support", "Recipes", "Archive"]),
        .target(name: "Boot", dependencies: ["Support", "Disk", "Archive"]),
        // Parses, validates and applies cloud-config on the host and in the image: standard library
        // and C only (no Foundation), so the in-image agent stays small.
        .target(name: "CloudConfig", dependencies: ["Codecs", "Posix", "CYAML", "CZlib"]),
        // Update payloads read, verified and installed (libcrypto, libbz2, no Foundation): the one
        // installer of `coresdk payload apply` and the in-image update engine.
        .target(name: "Payload", dependencies: ["Posix", "SlotLayout", "CBZip2", "CLibcrypto"]),
        // Making, signing and offering payloads, on the host.
        .target(name: "PayloadGeneration", dependencies: ["Payload", "Omaha", "Support"]),
        // The Omaha v3 protocol (XML, requests, responses, versions): standard library only, shared by
        // the update server and the in-image update engine.
        .target(name: "Omaha"),
        // The in-image update engine's logic: what it reads, when it checks, what it reports.
        // Standard library only, like the cloud-config agent.
        .target(name: "UpdateAgent", dependencies: ["Posix", "Omaha", "Payload", "SlotLayout", "HTTPFetch", "Codecs"]),
        // locksmithd and locksmithctl: reboot strategies, windows and etcd's reboot semaphore.
        .target(name: "Locksmith", dependencies: ["Posix", "UpdateAgent", "Etcd", "JSON", "SlotLayout"]),
        // In-image networking, standard library only (no Foundation, for the static agents' size):
        // a blocking HTTP/1.1 client over POSIX sockets, for Omaha checks and payload downloads.
        .target(name: "HTTPFetch"),
        // A strict RFC 8259 parser and a deterministic writer, for etcd's gateway and locksmith's semaphore.
        .target(name: "JSON"),
        // etcd's v3 API through its JSON gateway (keys, compare-and-swap, leases), for locksmithd and fleetd.
        .target(name: "Etcd", dependencies: ["Codecs", "HTTPFetch", "JSON"]),
        // One SQL interface over SQLite (embedded) and PostgreSQL (shared by several servers).
        .target(name: "Database", dependencies: [
            "CSQLite",
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        // `coresdk serve`: Nebraska's job — channels, groups, instances, events, rollout policy.
        .target(name: "UpdateServer", dependencies: [
            "Omaha", "Database", "Payload", "PayloadGeneration", "Support",
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .target(name: "ImageConfig", dependencies: ["Support", "Disk", "Boot", "Filesystems", "CloudConfig", "Payload", "PayloadGeneration", "Posix"]),
        .target(name: "Build", dependencies: ["Support", "Archive", "Recipes", "Rootfs", "Filesystems", "Disk", "Boot"]),

        // The thin CLI.
        .executableTarget(name: "coresdk", dependencies: [
            "Build", "Boot", "Recipes", "Disk", "Support", "CloudConfig", "ImageConfig", "Payload", "PayloadGeneration", "UpdateServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "coreos-agent", dependencies: ["CloudConfig", "UpdateAgent", "Locksmith", "Etcd", "Posix"]),

        // What several test targets share (scratch directories).
        .target(name: "TestSupport", dependencies: ["Etcd", "HTTPFetch"], path: "Tests/TestSupport"),
        // A small A/B disk image for the installer's tests.
        .target(name: "DiskFixtures", dependencies: ["Boot", "Disk", "Support"], path: "Tests/DiskFixtures"),
        .testTarget(name: "CloudConfigTests", dependencies: ["CloudConfig", "Codecs"]),
        .testTarget(name: "OmahaTests", dependencies: ["Omaha"]),
        .testTarget(name: "UpdateAgentTests", dependencies: ["UpdateAgent"]),
        .testTarget(name: "HTTPFetchTests", dependencies: ["TestSupport", "HTTPFetch",
                                                          .product(name: "Hummingbird", package: "hummingbird"),
                                                          .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "EtcdTests", dependencies: ["TestSupport", "Etcd", "HTTPFetch", "JSON"]),
        .testTarget(name: "LocksmithTests", dependencies: ["TestSupport", "Locksmith", "Etcd"]),
        .testTarget(name: "DatabaseTests", dependencies: ["TestSupport", "Database"]),
        .testTarget(name: "UpdateServerTests", dependencies: ["TestSupport", "DiskFixtures", "UpdateServer", "UpdateAgent", "ImageConfig", "Omaha", "Database", "Payload", "PayloadGeneration", "Support",
                                                              .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "PayloadTests", dependencies: ["Payload", "PayloadGeneration", "Support"]),
        .testTarget(name: "ImageConfigTests", dependencies: ["DiskFixtures", "ImageConfig", "Boot", "CloudConfig", "Disk", "Filesystems", "Support"]),
        .testTarget(name: "SupportTests", dependencies: ["Support"]),
        .testTarget(name: "RecipesTests", dependencies: ["Recipes"]),
        .testTarget(name: "DiskTests", dependencies: ["Disk", "Support"]),
        .testTarget(name: "FilesystemsTests", dependencies: ["TestSupport", "Filesystems", "Support"]),
        .testTarget(name: "ArchiveTests", dependencies: ["TestSupport", "Archive", "Support"]),
        .testTarget(name: "RootfsTests", dependencies: ["TestSupport", "Rootfs", "Support"]),
        .testTarget(name: "BootTests", dependencies: ["Boot", "Support"]),
        .testTarget(name: "BuildTests", dependencies: ["TestSupport", "Build", "Recipes", "Support"]),
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport", "Boot", "Disk", "Support", "Omaha", "Payload", "PayloadGeneration"]),
    ]
)
