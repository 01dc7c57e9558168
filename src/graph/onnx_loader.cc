#include "graph/onnx_loader.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace ferry {
namespace {

namespace fs = std::filesystem;

Result<std::string> ReadFile(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return NotFound("no such file: {}", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open {}", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <typename Proto>
bool ParseProto(const std::string& bytes, Proto* proto) {
  google::protobuf::io::ArrayInputStream raw(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&raw);
  coded.SetTotalBytesLimit(INT_MAX);
  return proto->ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
}

// Reads a tensor's external data into raw_data, so the rest of the loader (and the checker) sees one message.
Status InlineExternalData(onnx::TensorProto* t, const std::string& base_dir) {
  if (t->data_location() != onnx::TensorProto::EXTERNAL) return Status::Ok();
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : t->external_data()) {
    try {
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        offset = std::stoll(kv.value());
      else if (kv.key() == "length")
        length = std::stoll(kv.value());
    } catch (const std::exception&) {
      return InvalidArgument("initializer \"{}\": external_data {} \"{}\" is not a number", t->name(), kv.key(),
                             kv.value());
    }
  }
  if (base_dir.empty())
    return InvalidArgument("initializer \"{}\" uses external data, which needs a model folder", t->name());
  fs::path rel(location);
  if (location.empty() || rel.is_absolute()) {
    return InvalidArgument("initializer \"{}\": external data location \"{}\" must be a relative path", t->name(),
                           location);
  }
  for (const auto& part : rel) {
    if (part == "..")
      return InvalidArgument("initializer \"{}\": external data location \"{}\" leaves the model folder", t->name(),
                             location);
  }
  std::error_code ec;
  fs::path base = fs::weakly_canonical(base_dir, ec);
  fs::path full = fs::weakly_canonical(fs::path(base_dir) / rel, ec);
  auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (ec || b != base.end()) {
    return InvalidArgument("initializer \"{}\": external data location \"{}\" leaves the model folder", t->name(),
                           location);
  }
  if (!fs::is_regular_file(full, ec)) {
    return NotFound("initializer \"{}\": external data file \"{}\" not found", t->name(), location);
  }
  uintmax_t size = fs::file_size(full, ec);
  if (offset < 0 || static_cast<uintmax_t>(offset) > size) {
    return InvalidArgument("initializer \"{}\": external data offset {} is past the end of \"{}\"", t->name(), offset,
                           location);
  }
  if (length < 0) length = static_cast<int64_t>(size) - offset;
  if (static_cast<uintmax_t>(length) > size - static_cast<uintmax_t>(offset)) {  // offset + length could overflow
    return InvalidArgument("initializer \"{}\": external data [{}, +{}) is past the end of \"{}\"", t->name(), offset,
                           length, location);
  }
  std::ifstream in(full, std::ios::binary);
  std::string data(static_cast<size_t>(length), '\0');
  in.seekg(offset);
  in.read(data.data(), length);
  if (!in) return Internal("reading external data \"{}\" failed", location);
  t->set_raw_data(std::move(data));
  t->clear_external_data();
  t->set_data_location(onnx::TensorProto::DEFAULT);
  return Status::Ok();
}

Status InlineGraphExternalData(onnx::GraphProto* g, const std::string& base_dir) {
  for (auto& t : *g->mutable_initializer()) FERRY_RETURN_IF_ERROR(InlineExternalData(&t, base_dir));
  for (auto& node : *g->mutable_node()) {
    for (auto& a : *node.mutable_attribute()) {
      if (a.has_t()) FERRY_RETURN_IF_ERROR(InlineExternalData(a.mutable_t(), base_dir));
      if (a.has_g()) FERRY_RETURN_IF_ERROR(InlineGraphExternalData(a.mutable_g(), base_dir));
    }
  }
  return Status::Ok();
}

// ONNX 1.12's shape inference divides by every stride of Conv and the pools (convPoolShapeInference) without
// checking it, and the checker lets a stride of 0 through: that is a SIGFPE, which no try/catch stops. Strides and
// dilations are >= 1 in every op that has them, so anything else is refused before inference, in subgraphs and
// model-local functions too (inference walks them as well). Found by tests/fuzz/onnx_loader_fuzzer.
Status CheckWindowAttributes(const google::protobuf::RepeatedPtrField<onnx::NodeProto>& nodes, std::string_view where) {
  for (int i = 0; i < nodes.size(); ++i) {
    const onnx::NodeProto& node = nodes.Get(i);
    for (const auto& a : node.attribute()) {
      if (a.name() == "strides" || a.name() == "dilations") {
        for (int64_t v : a.ints()) {
          if (v < 1)
            return InvalidArgument("node #{} ({}){}: {} has value {}; must be >= 1", i, node.op_type(), where, a.name(),
                                   v);
        }
      }
      if (a.has_g()) FERRY_RETURN_IF_ERROR(CheckWindowAttributes(a.g().node(), " in a subgraph"));
      for (const auto& g : a.graphs()) FERRY_RETURN_IF_ERROR(CheckWindowAttributes(g.node(), " in a subgraph"));
    }
  }
  return Status::Ok();
}

template <typename Src, typename Dst>
void CopyField(const Src& field, Dst* out) {
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<Dst>(field.Get(i));
}

// How many values a tensor proto carries in the typed field its data type uses; -1 for types without one.
int TypedValueCount(const onnx::TensorProto& p, DataType dtype) {
  switch (dtype) {
    case DataType::kFloat:
      return p.float_data_size();
    case DataType::kDouble:
      return p.double_data_size();
    case DataType::kInt64:
      return p.int64_data_size();
    case DataType::kUInt32:
    case DataType::kUInt64:
      return p.uint64_data_size();
    case DataType::kInt32:
    case DataType::kInt16:
    case DataType::kInt8:
    case DataType::kUInt16:
    case DataType::kFloat16:
    case DataType::kBFloat16:
    case DataType::kUInt8:
    case DataType::kBool:
      return p.int32_data_size();
    default:
      return -1;
  }
}

Result<Tensor> TensorFromProto(const onnx::TensorProto& p) {
  if (!IsKnownDataType(p.data_type())) {
    return Unimplemented("tensor \"{}\" has unknown data type {}", p.name(), p.data_type());
  }
  DataType dtype = static_cast<DataType>(p.data_type());
  if (dtype == DataType::kString)
    return Unimplemented("tensor \"{}\" has type string, which is not supported", p.name());
  if (p.has_segment()) return Unimplemented("tensor \"{}\" is segmented, which is not supported", p.name());
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    return InvalidArgument("tensor \"{}\" has external data outside a model", p.name());
  }
  Shape shape(p.dims().begin(), p.dims().end());
  for (int64_t d : shape)
    if (d < 0) return InvalidArgument("tensor \"{}\" has a negative dimension", p.name());
  // What the proto carries is checked against what its shape declares before any memory is taken: a 100-byte
  // model that declares gigabytes must not make the loader allocate (and zero) them.
  const size_t elem = DataTypeSize(dtype);
  if (elem == 0) return Unimplemented("tensor \"{}\" has unsupported type {}", p.name(), DataTypeName(dtype));
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d > 0 && n > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(elem) / d) {
      return InvalidArgument("tensor \"{}\": its shape {} does not fit in memory", p.name(), ShapeToString(shape));
    }
    n *= d;
  }
  const uint64_t nbytes = static_cast<uint64_t>(n) * elem;
  if (p.has_raw_data()) {
    if (p.raw_data().size() != nbytes) {
      return InvalidArgument("tensor \"{}\": raw_data has {} bytes, its shape {} needs {}", p.name(),
                             p.raw_data().size(), ShapeToString(shape), nbytes);
    }
  } else {
    const int got = TypedValueCount(p, dtype);
    if (got < 0) return Unimplemented("tensor \"{}\" has unsupported type {}", p.name(), DataTypeName(dtype));
    if (got != n) {
      return InvalidArgument("tensor \"{}\" has {} values, its shape {} needs {}", p.name(), got, ShapeToString(shape),
                             n);
    }
  }
  FERRY_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
  if (p.has_raw_data()) {
    if (n) std::memcpy(t.data(), p.raw_data().data(), t.nbytes());
    return t;
  }
  switch (dtype) {
    case DataType::kFloat:
      CopyField(p.float_data(), t.as<float>());
      break;
    case DataType::kDouble:
      CopyField(p.double_data(), t.as<double>());
      break;
    case DataType::kInt64:
      CopyField(p.int64_data(), t.as<int64_t>());
      break;
    case DataType::kUInt32:
      CopyField(p.uint64_data(), t.as<uint32_t>());
      break;
    case DataType::kUInt64:
      CopyField(p.uint64_data(), t.as<uint64_t>());
      break;
    case DataType::kInt32:
      CopyField(p.int32_data(), t.as<int32_t>());
      break;
    case DataType::kInt16:
      CopyField(p.int32_data(), t.as<int16_t>());
      break;
    case DataType::kInt8:
      CopyField(p.int32_data(), t.as<int8_t>());
      break;
    case DataType::kUInt16:
    case DataType::kFloat16:
    case DataType::kBFloat16:
      CopyField(p.int32_data(), t.as<uint16_t>());
      break;
    case DataType::kUInt8:
      CopyField(p.int32_data(), t.as<uint8_t>());
      break;
    case DataType::kBool:
      for (int64_t i = 0; i < n; ++i) t.as<bool>()[i] = p.int32_data(static_cast<int>(i)) != 0;
      break;
    default:
      return Unimplemented("tensor \"{}\" has unsupported type {}", p.name(), DataTypeName(dtype));
  }
  return t;
}

Status ConvertValueInfo(const onnx::ValueInfoProto& vi, ValueInfo* out) {
  if (!vi.has_type()) return Status::Ok();
  const auto& type = vi.type();
  if (!type.has_tensor_type()) {
    if (type.has_sequence_type()) return Unimplemented("value \"{}\" is a sequence, which is not supported", vi.name());
    if (type.has_optional_type())
      return Unimplemented("value \"{}\" is an optional, which is not supported", vi.name());
    if (type.has_map_type()) return Unimplemented("value \"{}\" is a map, which is not supported", vi.name());
    if (type.has_sparse_tensor_type())
      return Unimplemented("value \"{}\" is a sparse tensor, which is not supported", vi.name());
    return Status::Ok();
  }
  const auto& tt = type.tensor_type();
  if (tt.has_elem_type()) {
    if (!IsKnownDataType(tt.elem_type()))
      return Unimplemented("value \"{}\" has unknown data type {}", vi.name(), tt.elem_type());
    out->dtype = static_cast<DataType>(tt.elem_type());
  }
  if (tt.has_shape()) {
    out->has_shape = true;
    out->shape.clear();
    for (const auto& d : tt.shape().dim()) {
      Dim dim;
      if (d.has_dim_value())
        dim.value = d.dim_value();
      else if (d.has_dim_param())
        dim.param = d.dim_param();
      out->shape.push_back(dim);
    }
  }
  return Status::Ok();
}

Result<AttributeValue> ConvertAttribute(const onnx::AttributeProto& a) {
  using A = onnx::AttributeProto;
  switch (a.type()) {
    case A::FLOAT:
      return AttributeValue(a.f());
    case A::INT:
      return AttributeValue(static_cast<int64_t>(a.i()));
    case A::STRING:
      return AttributeValue(a.s());
    case A::FLOATS:
      return AttributeValue(std::vector<float>(a.floats().begin(), a.floats().end()));
    case A::INTS:
      return AttributeValue(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case A::STRINGS:
      return AttributeValue(std::vector<std::string>(a.strings().begin(), a.strings().end()));
    case A::TENSOR: {
      FERRY_ASSIGN_OR_RETURN(Tensor t, TensorFromProto(a.t()));
      return AttributeValue(std::move(t));
    }
    case A::GRAPH:
    case A::GRAPHS:
      return Unimplemented("attribute \"{}\" is a subgraph; control flow is not supported", a.name());
    case A::SPARSE_TENSOR:
    case A::SPARSE_TENSORS:
      return Unimplemented("attribute \"{}\" is a sparse tensor, which is not supported", a.name());
    default:
      return Unimplemented("attribute \"{}\" has unsupported type {}", a.name(), static_cast<int>(a.type()));
  }
}

Result<Graph> ConvertModel(const onnx::ModelProto& model) {
  Graph g;
  for (const auto& op : model.opset_import()) {
    std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
    g.opsets[domain] = static_cast<int>(op.version());
  }
  auto it = g.opsets.find("");
  if (it == g.opsets.end()) return InvalidArgument("the model imports no default-domain (ai.onnx) opset");
  g.opset = it->second;
  if (g.opset < kMinOpset || g.opset > kMaxOpset) {
    return Unimplemented("default-domain opset {} is not supported (supported: {} to {})", g.opset, kMinOpset,
                         kMaxOpset);
  }
  const auto& gp = model.graph();
  for (const auto& init : gp.initializer()) {
    int v = g.AddValue(init.name());
    auto t = TensorFromProto(init);
    if (!t.ok()) return t.status().WithContext("initializer \"" + init.name() + "\"");
    g.values[v].dtype = t->dtype();
    g.values[v].has_shape = true;
    g.values[v].shape.clear();
    for (int64_t d : t->shape()) g.values[v].shape.push_back(Dim{d, ""});
    g.initializers[v] = std::move(*t);
  }
  if (gp.sparse_initializer_size() > 0) return Unimplemented("sparse initializers are not supported");
  for (const auto& in : gp.input()) {
    int v = g.AddValue(in.name());
    if (g.initializers.count(v)) continue;  // IR < 4 lists initializers as inputs; they keep their values
    FERRY_RETURN_IF_ERROR(ConvertValueInfo(in, &g.values[v]).WithContext("graph input"));
    if (g.values[v].dtype == DataType::kUndefined)
      return InvalidArgument("graph input \"{}\" has no tensor type", in.name());
    g.inputs.push_back(v);
  }
  for (const auto& vi : gp.value_info()) {
    int v = g.AddValue(vi.name());
    if (g.initializers.count(v)) continue;
    Status s = ConvertValueInfo(vi, &g.values[v]);
    if (!s.ok()) return s;
  }
  for (const auto& out : gp.output()) {
    int v = g.AddValue(out.name());
    if (!g.initializers.count(v))
      FERRY_RETURN_IF_ERROR(ConvertValueInfo(out, &g.values[v]).WithContext("graph output"));
    g.outputs.push_back(v);
  }
  for (const auto& np : gp.node()) {
    Node node;
    node.name = np.name();
    node.op_type = np.op_type();
    node.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    for (const auto& in : np.input()) node.inputs.push_back(in.empty() ? -1 : g.AddValue(in));
    for (const auto& out : np.output()) node.outputs.push_back(out.empty() ? -1 : g.AddValue(out));
    // Trailing empty names are absent optional outputs: the node has fewer outputs.
    while (!node.outputs.empty() && node.outputs.back() < 0) node.outputs.pop_back();
    for (const auto& a : np.attribute()) {
      if (!a.ref_attr_name().empty()) return Unimplemented("attribute references are not supported");
      auto v = ConvertAttribute(a);
      if (!v.ok()) {
        g.nodes.push_back(node);
        return v.status().WithContext(g.Describe(g.nodes.back()));
      }
      node.attrs.Set(a.name(), std::move(*v));
    }
    g.nodes.push_back(std::move(node));
  }
  FERRY_RETURN_IF_ERROR(g.TopologicalSort());
  return g;
}

Result<Graph> LoadParsed(onnx::ModelProto& model, const std::string& base_dir, OnnxModelInfo* info) {
  FERRY_RETURN_IF_ERROR(InlineGraphExternalData(model.mutable_graph(), base_dir));
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    return InvalidArgument("the ONNX checker rejected the model: {}", e.what());
  }
  FERRY_RETURN_IF_ERROR(CheckWindowAttributes(model.graph().node(), ""));
  for (const auto& f : model.functions()) FERRY_RETURN_IF_ERROR(CheckWindowAttributes(f.node(), " in a function"));
  try {
    onnx::shape_inference::InferShapes(model);
  } catch (const std::exception& e) {
    return InvalidArgument("ONNX shape inference failed: {}", e.what());
  }
  if (info) {
    info->ir_version = model.ir_version();
    info->producer_name = model.producer_name();
    info->producer_version = model.producer_version();
    info->graph_name = model.graph().name();
  }
  return ConvertModel(model);
}

}  // namespace

Result<Graph> LoadOnnxModelFromBytes(const std::string& bytes, const std::string& base_dir, OnnxModelInfo* info) {
  onnx::ModelProto model;
  if (!ParseProto(bytes, &model)) return InvalidArgument("the file is not a valid ONNX model (protobuf parse failed)");
  return LoadParsed(model, base_dir, info);
}

Result<Graph> LoadOnnxModel(const std::string& path, OnnxModelInfo* info) {
  FERRY_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  std::string dir = fs::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return LoadOnnxModelFromBytes(bytes, dir, info);
}

Result<Tensor> ReadTensorProtoFile(const std::string& path, std::string* name) {
  FERRY_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  onnx::TensorProto p;
  if (!ParseProto(bytes, &p)) return InvalidArgument("{} is not a TensorProto", path);
  if (name) *name = p.name();
  return TensorFromProto(p);
}

}  // namespace ferry
