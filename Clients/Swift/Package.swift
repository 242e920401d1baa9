// swift-tools-version:6.1
import PackageDescription

// The API's Swift client, generated from Public/openapi.yaml by swift-openapi-generator at build
// time; its test walks a receivable from issue to settlement against a running demo
// (CASCADE_CLIENT_WALK_URL). A change that breaks the document breaks this build or this walk.
let package = Package(
    name: "cascade-client",
    platforms: [.macOS(.v14)],
    products: [.library(name: "CascadeClient", targets: ["CascadeClient"])],
    dependencies: [
        .package(url: "https://github.com/apple/swift-openapi-generator.git", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/apple/swift-openapi-urlsession.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        .target(
            name: "CascadeClient",
            dependencies: [
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIURLSession", package: "swift-openapi-urlsession"),
            ],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        .testTarget(
            name: "ClientWalkTests",
            dependencies: [
                "CascadeClient",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIURLSession", package: "swift-openapi-urlsession"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
