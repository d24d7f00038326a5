// The generated Go SDK (build/sdks/go, made by codegen/sdks.py) against a live server: log in,
// create an agent, publish it, stream a chat, list, delete, and a refusal.
// Usage: go run . BASE_URL EMAIL PASSWORD. Prints one JSON line of findings.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	cozeplus "github.com/cozeplus/sdk-go"
)

func main() {
	seen := map[string]interface{}{}
	if err := scenario(seen, os.Args[1], os.Args[2], os.Args[3]); err != nil {
		seen["unexpected_error"] = err.Error()
	}
	line, _ := json.Marshal(seen)
	fmt.Println(string(line))
}

func id(value string) cozeplus.IdInput { return cozeplus.StringAsIdInput(&value) }

func scenario(seen map[string]interface{}, base, email, password string) error {
	config := cozeplus.NewConfiguration()
	config.Servers = cozeplus.ServerConfigurations{{URL: base}}
	api := cozeplus.NewAPIClient(config)
	ctx := context.Background()

	login, _, err := api.PassportAPI.EmailLogin(ctx).LoginRequest(*cozeplus.NewLoginRequest(email, password)).Execute()
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	data := login.GetData()
	ctx = context.WithValue(ctx, cozeplus.ContextAccessToken, data.GetToken())

	spaces, _, err := api.SpaceAPI.ListWorkspaces(ctx).Execute()
	if err != nil {
		return fmt.Errorf("workspaces: %w", err)
	}
	spaceData := spaces.GetData()
	spaceID := spaceData.GetWorkspaces()[0].GetId()

	created, _, err := api.AgentAPI.OpenCreateBot(ctx).
		OpenBotCreateRequest(*cozeplus.NewOpenBotCreateRequest("Go SDK agent", id(spaceID))).Execute()
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	bot := created.GetData()
	botID := bot.GetBotId()
	seen["created"] = map[string]string{"bot_id": botID, "name": bot.GetName()}

	connector := "1024"
	publish := cozeplus.NewOpenPublishBotRequest(id(botID),
		[]cozeplus.OpenPublishBotRequestConnectorIdsInner{cozeplus.StringAsOpenPublishBotRequestConnectorIdsInner(&connector)})
	published, _, err := api.AgentAPI.OpenPublishBot(ctx).OpenPublishBotRequest(*publish).Execute()
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	publishedBot := published.GetData()
	seen["published_version"] = publishedBot.GetVersion()

	question := cozeplus.NewAdditionalMessage("user", "Hello from the Go SDK")
	question.SetContentType("text")
	chat := cozeplus.NewChatRequest(id(botID), "go-sdk", []cozeplus.AdditionalMessage{*question})
	events, answer, completed := []string{}, "", ""
	var chatID, conversationID, status string
	err = api.ChatAPI.StreamChat(ctx, *chat, func(event cozeplus.Event) error {
		events = append(events, event.Event)
		switch event.Event {
		case "conversation.message.delta":
			var message cozeplus.OpenMessage
			if err := event.Decode(&message); err != nil {
				return err
			}
			answer += message.GetContent()
		case "conversation.message.completed":
			var message cozeplus.OpenMessage
			if err := event.Decode(&message); err != nil {
				return err
			}
			if message.GetType() == "answer" {
				completed = message.GetContent()
			}
		case "conversation.chat.completed":
			var done cozeplus.Chat
			if err := event.Decode(&done); err != nil {
				return err
			}
			chatID, conversationID, status = done.GetId(), done.GetConversationId(), done.GetStatus()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	seen["events"], seen["answer"], seen["completed"] = events, answer, completed
	seen["chat"] = map[string]string{"id": chatID, "status": status}

	retrieved, _, err := api.ChatAPI.RetrieveChat(ctx).ConversationId(conversationID).ChatId(chatID).Execute()
	if err != nil {
		return fmt.Errorf("retrieve: %w", err)
	}
	retrievedChat := retrieved.GetData()
	seen["retrieved_status"] = retrievedChat.GetStatus()

	listed, _, err := api.AgentAPI.OpenListBots(ctx).WorkspaceId(spaceID).Execute()
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	ids := []string{}
	listedData := listed.GetData()
	for _, item := range listedData.GetItems() {
		ids = append(ids, item.GetId())
	}
	seen["listed"] = ids

	deleted, _, err := api.AgentAPI.DeleteBot(ctx).BotIdRequest(*cozeplus.NewBotIdRequest(id(botID))).Execute()
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	seen["delete_code"] = deleted.GetCode()
	_, response, err := api.AgentAPI.OpenGetBot(ctx, botID).Execute()
	seen["after_delete"] = map[string]interface{}{"status": response.StatusCode, "code": envelopeCode(err)}

	_, response, err = api.AgentAPI.OpenCreateBot(ctx).
		OpenBotCreateRequest(*cozeplus.NewOpenBotCreateRequest("Nowhere", id("123"))).Execute()
	seen["refused"] = map[string]interface{}{"status": response.StatusCode, "code": envelopeCode(err)}
	return nil
}

// envelopeCode is the domain code of a refusal's {code, msg} body.
func envelopeCode(err error) int64 {
	var apiError *cozeplus.GenericOpenAPIError
	if !errors.As(err, &apiError) {
		return -1
	}
	var envelope struct {
		Code int64 `json:"code"`
	}
	if json.Unmarshal(apiError.Body(), &envelope) != nil {
		return -2
	}
	return envelope.Code
}
