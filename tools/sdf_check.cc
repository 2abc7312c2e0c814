// Load SDF files with libsdformat (the parser Gazebo uses) and report what is in them.
//
//   g++ -O1 -o build/sdf_check/sdf_check tools/sdf_check.cc $(pkg-config --cflags --libs sdformat12)
//   build/sdf_check/sdf_check [--strict] FILE.sdf...
//
// For each file: every parser error on stderr as "FILE: error: ...", then on stdout
//   file FILE
//   world NAME models N lights N plugins N        (per world)
//   plugin FILENAME                                (world plugins)
//   model NAME links N joints N sensors N plugins N static 0|1   (per model, worlds and model files)
//   model_plugin NAME FILENAME                     (plugins of top-level model files)
// --strict turns warnings and unrecognised elements into errors.
// Exit code: 0 when every file loaded without errors, 1 otherwise, 2 on bad usage.
// tests/test_gazebo_world.py compiles this on demand (cache: build/sdf_check/).

#include <cstring>
#include <iostream>
#include <string>

#include <sdf/Element.hh>
#include <sdf/Link.hh>
#include <sdf/Model.hh>
#include <sdf/ParserConfig.hh>
#include <sdf/Root.hh>
#include <sdf/World.hh>

namespace {

int CountChildren(const sdf::ElementPtr &elem, const std::string &name) {
  int n = 0;
  if (!elem) return 0;
  for (auto c = elem->GetFirstElement(); c; c = c->GetNextElement()) {
    if (c->GetName() == name) ++n;
  }
  return n;
}

void PrintModel(const sdf::Model *model, bool plugins) {
  uint64_t sensors = 0;
  for (uint64_t i = 0; i < model->LinkCount(); ++i) {
    sensors += model->LinkByIndex(i)->SensorCount();
  }
  std::cout << "model " << model->Name() << " links " << model->LinkCount() << " joints "
            << model->JointCount() << " sensors " << sensors << " plugins "
            << CountChildren(model->Element(), "plugin") << " static " << (model->Static() ? 1 : 0)
            << "\n";
  if (plugins && model->Element()) {
    for (auto c = model->Element()->GetFirstElement(); c; c = c->GetNextElement()) {
      if (c->GetName() == "plugin") {
        std::cout << "model_plugin " << model->Name() << " " << c->Get<std::string>("filename") << "\n";
      }
    }
  }
}

}  // namespace

int main(int argc, char **argv) {
  bool strict = false;
  int first = 1;
  if (argc > 1 && std::strcmp(argv[1], "--strict") == 0) {
    strict = true;
    first = 2;
  }
  if (first >= argc) {
    std::cerr << "usage: sdf_check [--strict] FILE.sdf...\n";
    return 2;
  }
  sdf::ParserConfig config = sdf::ParserConfig::GlobalConfig();
  if (strict) {
    config.SetWarningsPolicy(sdf::EnforcementPolicy::ERR);
    config.SetUnrecognizedElementsPolicy(sdf::EnforcementPolicy::ERR);
  }
  int failed = 0;
  for (int a = first; a < argc; ++a) {
    const std::string path = argv[a];
    sdf::Root root;
    const sdf::Errors errors = root.Load(path, config);
    for (const auto &e : errors) {
      std::cerr << path << ": error: " << e << "\n";
    }
    std::cout << "file " << path << "\n";
    std::cout << "errors " << errors.size() << "\n";
    if (!errors.empty()) ++failed;
    for (uint64_t w = 0; w < root.WorldCount(); ++w) {
      const sdf::World *world = root.WorldByIndex(w);
      std::cout << "world " << world->Name() << " models " << world->ModelCount() << " lights "
                << world->LightCount() << " plugins " << CountChildren(world->Element(), "plugin")
                << "\n";
      if (world->Element()) {
        for (auto c = world->Element()->GetFirstElement(); c; c = c->GetNextElement()) {
          if (c->GetName() == "plugin") {
            std::cout << "plugin " << c->Get<std::string>("filename") << "\n";
          }
        }
      }
      for (uint64_t m = 0; m < world->ModelCount(); ++m) {
        PrintModel(world->ModelByIndex(m), false);
      }
    }
    if (root.Model() != nullptr) {
      PrintModel(root.Model(), true);
    }
  }
  return failed == 0 ? 0 : 1;
}
