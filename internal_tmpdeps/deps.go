package deps
import (
 _ "github.com/spf13/cobra"
 _ "github.com/gorilla/mux"
 _ "google.golang.org/grpc"
 _ "google.golang.org/protobuf/proto"
 _ "github.com/mattn/go-sqlite3"
 _ "go.yaml.in/yaml/v3"
)
