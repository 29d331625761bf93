//! Compiles ONNX's `onnx.proto` (vendored in `proto/`, from the onnx project, Apache-2.0) into
//! prost types for the synthetic ONNX writer. protox parses the .proto in Rust, so no `protoc`
//! is needed on the build machine.

fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let descriptors =
        protox::compile(["onnx.proto"], ["proto"]).expect("proto/onnx.proto compiles");
    prost_build::Config::new()
        // The .proto's comments hold indented examples that rustdoc would run as doctests.
        .disable_comments(["."])
        .compile_fds(descriptors)
        .expect("prost types for onnx.proto");
}
