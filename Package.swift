// swift-tools-version: 6.1
import Foundation
import PackageDescription

// What `vqueue --version` prints: the VERSION file (which `make deb` reads
// too), and the commit when built from a git checkout.
let version = (try? String(contentsOfFile: Context.packageDirectory + "/VERSION", encoding: .utf8))?
    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
let commit = Context.gitInformation.map {
    String($0.currentCommit.prefix(12)) + ($0.hasUncommittedChanges ? "+changes" : "")
} ?? ""

let package = Package(
    name: "vqueue",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vqueue", targets: ["vqueue"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // `vqueue serve`. No traits: swift-configuration and full Foundation are not needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // FFmpeg's libraries from Debian's -dev packages (headers), opened at
        // run time on first use (see libav_loader.c).
        .target(name: "CLibAV", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "Transcode", dependencies: ["CLibAV"]),
        // PostgreSQL's client library from Debian's libpq-dev (headers),
        // opened at run time on first use (see libpq_loader.c).
        .target(name: "CLibPQ", linkerSettings: [.linkedLibrary("dl")]),
        // libcurl and libcrypto (OpenSSL) from Debian's libcurl4-openssl-dev and
        // libssl-dev (headers), opened at run time on first use (see webhook_loader.c).
        .target(name: "CWebhook", linkerSettings: [.linkedLibrary("dl")]),
        // Webhooks: Standard Webhooks signatures and an HTTP POST. Knows nothing
        // of queues; the executable hands it each notification's body.
        .target(name: "Webhooks", dependencies: ["CWebhook"]),
        // Starting a job's child process: fork + execve with what a supervisor
        // needs set between them (see child_spawn.c).
        .target(name: "CProcess"),
        .target(name: "CBuildInfo", cSettings: [
            .define("VQ_VERSION", to: "\"\(version)\""),
            .define("VQ_COMMIT", to: "\"\(commit)\""),
        ]),
        .target(name: "JobQueue", dependencies: [
            "CLibPQ",
            "CProcess",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // What a transcode job means to a worker: its payload, the child that
        // runs it, the folders it may touch. The one module that knows both
        // the queue and video.
        .target(name: "TranscodeJobs", dependencies: ["JobQueue", "Transcode"]),
        // `vqueue serve`: the farm over HTTP. Talks to JobQueue only; how a job
        // is shown and submitted is handed in by the executable (`FarmPresentation`).
        .target(name: "Serve", dependencies: [
            "JobQueue",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(
            name: "vqueue",
            dependencies: [
                "Transcode",
                "JobQueue",
                "TranscodeJobs",
                "Serve",
                "Webhooks",
                "CBuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "queue-bench", dependencies: ["JobQueue"], path: "Tests/Bench/QueueBench"),
        .executableTarget(name: "child-bench", dependencies: ["JobQueue"], path: "Tests/Bench/ChildBench"),
        .testTarget(name: "TranscodeTests", dependencies: ["Transcode", "CLibAV"]),
        .testTarget(name: "JobQueueTests", dependencies: ["JobQueue"]),
        .testTarget(name: "TranscodeJobsTests", dependencies: ["TranscodeJobs"]),
        .testTarget(name: "vqueueTests", dependencies: ["vqueue"]),
        .testTarget(name: "EndToEndTests", dependencies: ["vqueue"]),
    ]
)
