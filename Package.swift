// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "vqueue",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vqueue", targets: ["vqueue"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // FFmpeg's libraries from Debian's -dev packages (headers), opened at
        // run time on first use (see libav_loader.c).
        .target(name: "CLibAV", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "Transcode", dependencies: ["CLibAV"]),
        // Starting a job's child process: fork + execve with what a supervisor
        // needs set between them (see child_spawn.c).
        .target(name: "CProcess"),
        .target(name: "JobQueue", dependencies: [
            "CProcess",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(
            name: "vqueue",
            dependencies: [
                "Transcode",
                "JobQueue",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "queue-bench", dependencies: ["JobQueue"], path: "Tests/Bench/QueueBench"),
        .executableTarget(name: "child-bench", dependencies: ["JobQueue"], path: "Tests/Bench/ChildBench"),
        .testTarget(name: "TranscodeTests", dependencies: ["Transcode", "CLibAV"]),
        .testTarget(name: "JobQueueTests", dependencies: ["JobQueue"]),
        .testTarget(name: "vqueueTests", dependencies: ["vqueue"]),
        .testTarget(name: "EndToEndTests", dependencies: ["vqueue"]),
    ]
)
